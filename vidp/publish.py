"""Publish a video's outputs under `<output>/<video_id>/`, the manifest last.

Storage is a small interface so object storage can be added beside the local folder.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from vidp.errors import UnsupportedOutput

__all__ = ["LocalStorage", "Storage", "check_output", "publish", "storage_for", "unpublish"]


class Storage(Protocol):
    def begin(self) -> None:
        """Prepare to publish: after this, readers see the video as not done."""

    def stage(self, local: Path, key: str) -> str:
        """Copy a file to `key` in the staging area; return its final URI."""

    def link(self, uri: str) -> str | None:
        """A shareable HTTPS link to a published URI, where the storage has one."""

    def commit(self, manifest: dict[str, Any]) -> str:
        """Make the staged files visible and write the manifest last; return its URI."""

    def abort(self) -> None:
        """Drop whatever was staged."""


class LocalStorage:
    """A folder: files are staged in a hidden sibling directory that is renamed into place."""

    def __init__(self, root: Path, video_id: str) -> None:
        self.root = root.expanduser().resolve()
        self.final = self.root / video_id
        self.staging = self.root / f".{video_id}.staging-{uuid.uuid4().hex[:8]}"

    def begin(self) -> None:
        pass  # nothing is visible until commit renames the staging folder

    def link(self, uri: str) -> str | None:
        return None

    def stage(self, local: Path, key: str) -> str:
        target = self.staging / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, target)
        return str(self.final / key)

    def commit(self, manifest: dict[str, Any]) -> str:
        self.staging.mkdir(parents=True, exist_ok=True)
        if self.final.exists():  # a re-run replaces the earlier outputs whole
            old = self.root / f".{self.final.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(self.final, old)
            shutil.rmtree(old)
        os.replace(self.staging, self.final)
        partial = self.final / ".manifest.json.partial"
        partial.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(partial, self.final / "manifest.json")
        return str(self.final / "manifest.json")

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def check_output(output: str) -> None:
    """Reject an output location no storage serves, before any work is done."""
    if "://" in output and not output.startswith(("file://", "s3://")):
        raise UnsupportedOutput(
            f"unsupported output {output!r}: give a local folder, a file:// URI or s3://bucket/prefix"
        )


def storage_for(output: str, video_id: str) -> Storage:
    """The storage behind an output location: a local folder, file:// or s3://bucket/prefix."""
    check_output(output)
    if output.startswith("s3://"):
        from vidp.s3 import S3Storage

        return S3Storage(output, video_id)
    return LocalStorage(Path(output.removeprefix("file://")), video_id)


def publish(
    storage: Storage,
    files: dict[str, Path],
    build_manifest: Callable[[dict[str, str], dict[str, str]], dict[str, Any]],
) -> dict[str, Any]:
    """Stage every file, build the manifest from their URIs and links, then commit; nothing is
    half-published."""
    storage.begin()
    try:
        uris = {key: storage.stage(path, key) for key, path in files.items()}
        links = {key: link for key, uri in uris.items() if (link := storage.link(uri))}
        manifest = build_manifest(uris, links)
        storage.commit(manifest)
    except BaseException:
        storage.abort()
        raise
    return manifest


def unpublish(manifest_uri: str) -> None:
    """Delete a published video's folder, its manifest first: a reader never sees a manifest that
    names deleted files."""
    folder = manifest_uri.rsplit("/", 1)[0]
    if folder.startswith("s3://"):
        from vidp.s3 import delete_prefix

        delete_prefix(folder, first="manifest.json")
        return
    root = Path(folder.removeprefix("file://"))
    (root / "manifest.json").unlink(missing_ok=True)
    shutil.rmtree(root, ignore_errors=True)
