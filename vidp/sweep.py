"""Which objects in an upload prefix are videos to process, and the key that makes it once only."""

from __future__ import annotations

from pathlib import PurePosixPath

from vidp import storage
from vidp.storage import StoredObject

__all__ = [
    "VIDEO_SUFFIXES",
    "in_batches",
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


def list_uploads(uploads: str) -> list[StoredObject]:
    """Every object under the upload prefix (`s3://bucket/prefix`), paginated."""
    return storage.at(uploads).list(uploads)


def current_version(uri: str) -> StoredObject | None:
    """The object at `uri` as it is now (its ETag and size), or None if there is none.
    Other errors (access, throttling) are raised: they say nothing about the object."""
    return storage.at(uri).stat(uri)


def current_versions(
    objects: list[StoredObject],
) -> tuple[list[StoredObject], dict[str, str]]:
    """The objects a notification named, as they are now: a notification can be stale, forged or
    replayed, but the bucket is the truth. Objects that are gone are returned with why."""
    found: list[StoredObject] = []
    gone: dict[str, str] = {}
    for obj in objects:
        if (now := current_version(obj.uri)) is None:
            gone[obj.uri] = "no such object"
        else:
            found.append(now)
    return found, gone


def plan_sweep(
    objects: list[StoredObject], output: str
) -> tuple[list[StoredObject], dict[str, str]]:
    """Videos to process, and the other keys with why they are ignored."""
    out_prefix = output.rstrip("/") + "/"
    videos: list[StoredObject] = []
    ignored: dict[str, str] = {}
    for obj in objects:
        if obj.uri.startswith(out_prefix):
            ignored[obj.uri] = "under the output prefix"
        elif PurePosixPath(obj.uri).suffix.lower() not in VIDEO_SUFFIXES:
            ignored[obj.uri] = "not a video file name"
        elif obj.size == 0:
            ignored[obj.uri] = "empty object"
        else:
            videos.append(obj)
    return videos, ignored


def in_batches(items: list[str], size: int) -> list[list[str]]:
    """`items` in order, `size` at a time (the last batch may be smaller)."""
    return [items[i : i + size] for i in range(0, len(items), size)]
