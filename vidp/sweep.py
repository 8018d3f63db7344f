"""Which objects in an upload prefix are videos to process, and the key that makes it once only."""

from __future__ import annotations

from pathlib import PurePosixPath

from botocore.exceptions import ClientError
from pydantic import BaseModel

from vidp.s3 import bucket, is_missing, parse_s3_uri

__all__ = [
    "VIDEO_SUFFIXES",
    "UploadObject",
    "current_version",
    "current_versions",
    "list_uploads",
    "plan_sweep",
]

VIDEO_SUFFIXES = frozenset(
    {
        ".mp4",
        ".m4v",
        ".mov",
        ".mkv",
        ".webm",
        ".avi",
        ".mpg",
        ".mpeg",
        ".ts",
        ".mts",
        ".m2ts",
        ".flv",
        ".wmv",
        ".3gp",
        ".ogv",
    }
)


class UploadObject(BaseModel):
    bucket: str
    key: str
    etag: str
    size: int

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def idempotency_key(self) -> str:
        """Same object version, same key: a second sweep or event finds the first run."""
        return f"{self.bucket}/{self.key}/{self.etag.strip(chr(34))}"


def list_uploads(uploads: str) -> list[UploadObject]:
    """Every object under `s3://bucket/prefix`, paginated."""
    name, prefix = parse_s3_uri(uploads)
    client = bucket(name).credentials.get_s3_client()
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name, Prefix=prefix):
        for item in page.get("Contents", []):
            found.append(
                UploadObject(bucket=name, key=item["Key"], etag=item["ETag"], size=item["Size"])
            )
    return found


def current_version(uri: str) -> UploadObject | None:
    """The object at `s3://bucket/key` as it is now (its ETag and size), or None if there is none.
    Other S3 errors (access, throttling) are raised: they say nothing about the object."""
    name, key = parse_s3_uri(uri)
    client = bucket(name).credentials.get_s3_client()
    try:
        head = client.head_object(Bucket=name, Key=key)
    except ClientError as error:
        if is_missing(error):
            return None
        raise
    return UploadObject(bucket=name, key=key, etag=head["ETag"], size=head["ContentLength"])


def current_versions(
    objects: list[UploadObject],
) -> tuple[list[UploadObject], dict[str, str]]:
    """The objects a notification named, as they are now: a notification can be stale, forged or
    replayed, but the bucket is the truth. Objects that are gone are returned with why."""
    found: list[UploadObject] = []
    gone: dict[str, str] = {}
    for obj in objects:
        if (now := current_version(obj.uri)) is None:
            gone[obj.uri] = "no such object"
        else:
            found.append(now)
    return found, gone


def plan_sweep(
    objects: list[UploadObject], output: str
) -> tuple[list[UploadObject], dict[str, str]]:
    """Videos to process, and the other keys with why they are ignored."""
    out_bucket, out_prefix = (
        parse_s3_uri(output.rstrip("/") + "/") if output.startswith("s3://") else ("", "")
    )
    videos: list[UploadObject] = []
    ignored: dict[str, str] = {}
    for obj in objects:
        if obj.bucket == out_bucket and obj.key.startswith(out_prefix):
            ignored[obj.uri] = "under the output prefix"
        elif PurePosixPath(obj.key).suffix.lower() not in VIDEO_SUFFIXES:
            ignored[obj.uri] = "not a video file name"
        elif obj.size == 0:
            ignored[obj.uri] = "empty object"
        else:
            videos.append(obj)
    return videos, ignored
