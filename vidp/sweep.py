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


def in_batches(items: list[str], size: int, workers: int = 1) -> list[list[str]]:
    """`items` in order, in as few batches of at most `size` as there are, but one for each of
    `workers` while there are items enough; batch sizes differ by one at most.

    One batch per worker: a worker runs every batch it takes at once, and two batches side by
    side on one machine run two Whispers and two encodes on the same cores (slower than one
    after the other, measured)."""
    if not items:
        return []
    count = max(-(-len(items) // size), min(len(items), workers))
    share, extra = divmod(len(items), count)
    bounds = [i * share + min(i, extra) for i in range(count + 1)]
    return [items[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
