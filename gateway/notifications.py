"""S3 event notifications (AWS's format, and MinIO's, which follows it) as upload objects."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from pydantic import BaseModel, ValidationError

from vidp.sweep import UploadObject

__all__ = ["NotNotification", "created_objects"]


class NotNotification(ValueError):
    """The body is not an S3 event notification."""


class _Object(BaseModel):
    key: str
    eTag: str = ""  # noqa: N815 - the notification's own field names
    size: int = 0


class _Bucket(BaseModel):
    name: str


class _S3(BaseModel):
    bucket: _Bucket
    object: _Object


class _Record(BaseModel):
    eventName: str  # noqa: N815
    s3: _S3


class _Notification(BaseModel):
    Records: list[_Record]  # noqa: N815


def created_objects(body: dict[str, Any]) -> list[UploadObject]:
    """The objects a notification says were created (deletions and the like are left out).

    AWS URL-encodes keys in notifications (a space arrives as `+`); MinIO does too. The ETag is
    the object's identity, as in `sweep-uploads`, so a notification and a sweep of the same
    upload find one run.
    """
    if "Records" not in body and body.get("Event") == "s3:TestEvent":
        return []  # the test message S3 sends when notifications are set up
    try:
        notification = _Notification.model_validate(body)
    except ValidationError as e:
        raise NotNotification(f"not an S3 event notification: {e.errors()[0]['msg']}") from None
    return [
        UploadObject(
            bucket=r.s3.bucket.name,
            key=unquote_plus(r.s3.object.key),
            etag=r.s3.object.eTag,
            size=r.s3.object.size,
        )
        for r in notification.Records
        if r.eventName.removeprefix("s3:").startswith("ObjectCreated:")
    ]
