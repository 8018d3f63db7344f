"""S3 event notifications as upload objects: AWS's notification format (MinIO's follows it), and
the "Object Created" events S3 sends through Amazon EventBridge."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from pydantic import BaseModel, ValidationError

from vidp.storage import StoredObject

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


class _BridgeObject(BaseModel):
    key: str
    etag: str = ""
    size: int = 0


class _BridgeDetail(BaseModel):
    bucket: _Bucket
    object: _BridgeObject


class _BridgeEvent(BaseModel):
    """S3 -> EventBridge: one event per object, keys as they are (not URL-encoded)."""

    detail: _BridgeDetail


def created_objects(body: Any) -> list[StoredObject]:
    """The objects a notification says were created (deletions and the like are left out).

    The ETag is the object's identity, as in `sweep-uploads`, so a notification and a sweep of
    the same upload find one run.
    """
    if not isinstance(body, dict):
        raise NotNotification("not an S3 event notification: the body is not a JSON object")
    if "Records" not in body and body.get("Event") == "s3:TestEvent":
        return []  # the test message S3 sends when notifications are set up
    try:
        if body.get("source") == "aws.s3" and "detail-type" in body:
            return _from_eventbridge(body)
        return _from_records(body)
    except ValidationError as e:
        raise NotNotification(f"not an S3 event notification: {e.errors()[0]['msg']}") from None


def _from_eventbridge(body: dict[str, Any]) -> list[StoredObject]:
    if body["detail-type"] != "Object Created":
        return []
    detail = _BridgeEvent.model_validate(body).detail
    return [
        StoredObject(
            uri=f"s3://{detail.bucket.name}/{detail.object.key}",
            etag=detail.object.etag,
            size=detail.object.size,
        )
    ]


def _from_records(body: dict[str, Any]) -> list[StoredObject]:
    """AWS URL-encodes keys in these notifications (a space arrives as `+`); MinIO does too."""
    notification = _Notification.model_validate(body)
    return [
        StoredObject(
            uri=f"s3://{r.s3.bucket.name}/{unquote_plus(r.s3.object.key)}",
            etag=r.s3.object.eTag,
            size=r.s3.object.size,
        )
        for r in notification.Records
        if r.eventName.removeprefix("s3:").startswith("ObjectCreated:")
    ]
