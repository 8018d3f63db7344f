"""Publish a video's outputs under `<output>/<video_id>/`, the manifest last.

A folder is published by renaming a staged copy into place; object storage (`vidp.storage`)
object by object, the manifest last.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from vidp import storage
from vidp.errors import UnsupportedOutput
from vidp.settings import get_settings
from vidp.storage import Store

if TYPE_CHECKING:  # annotations only: no need to load the pipeline's models
    from vidp.manifest import Manifest

__all__ = ["Publication", "check_output", "publication_for", "publish", "unpublish"]


class Publication(Protocol):
    """One video's outputs on their way into storage: invisible to readers as a set until
    `commit` writes the manifest."""

    def begin(self) -> None:
        """Prepare to publish: after this, readers see the video as not done."""

    def stage(self, local: Path, key: str) -> str:
        """Copy a file to `key` in the staging area; return its final URI."""

    def link(self, uri: str) -> str | None:
        """A shareable HTTPS link to a published URI, where the storage has one."""

    def commit(self, manifest: str) -> str:
        """Make the staged files visible and write the manifest (JSON text) last; return its
        URI."""

    def abort(self) -> None:
        """Drop whatever was staged."""


class FolderPublication:
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

    def commit(self, manifest: str) -> str:
        self.staging.mkdir(parents=True, exist_ok=True)
        if self.final.exists():  # a re-run replaces the earlier outputs whole
            old = self.root / f".{self.final.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(self.final, old)
            shutil.rmtree(old)
        os.replace(self.staging, self.final)
        partial = self.final / ".manifest.json.partial"
        partial.write_text(manifest, encoding="utf-8")
        os.replace(partial, self.final / "manifest.json")
        return str(self.final / "manifest.json")

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


class ObjectPublication:
    """Object storage (`<output>/<video_id>/...`): objects are uploaded in place, the manifest last.

    Objects have no rename, so an earlier manifest of the same video is deleted first: while the
    new objects go up, readers see the video as not done, never a manifest naming half-written
    files."""

    def __init__(self, store: Store, output: str, video_id: str) -> None:
        self.store = store
        self.uri = f"{output.rstrip('/')}/{video_id}/"
        self.uploaded: list[str] = []

    def begin(self) -> None:
        self.store.delete(self.uri + "manifest.json")

    def stage(self, local: Path, key: str) -> str:
        self.store.put_file(local, self.uri + key)
        self.uploaded.append(self.uri + key)
        return self.uri + key

    def link(self, uri: str) -> str | None:
        return self.store.link(uri, get_settings().presign_expiry_s)

    def commit(self, manifest: str) -> str:
        self.store.put_bytes(manifest.encode(), self.uri + "manifest.json")
        return self.uri + "manifest.json"

    def abort(self) -> None:
        for uri in self.uploaded:
            self.store.delete(uri)


def _store(output: str) -> Store:
    forms = "a local folder, a file:// URI or s3://bucket/prefix"
    return storage.served(output, "output", forms, UnsupportedOutput)


def check_output(output: str) -> None:
    """Reject an output location no storage serves, before any work is done."""
    _store(output)


def publication_for(output: str, video_id: str) -> Publication:
    """How `video_id`'s outputs go into `output`: a folder, or a bucket and prefix."""
    store = _store(output)
    folder = store.local_path(output)
    if folder is not None:
        return FolderPublication(folder, video_id)
    return ObjectPublication(store, output, video_id)


def publish(
    publication: Publication,
    files: dict[str, Path],
    build_manifest: Callable[[dict[str, str], dict[str, str]], Manifest],
) -> Manifest:
    """Stage every file, build the manifest from their URIs and links, then commit; nothing is
    half-published."""
    publication.begin()
    try:
        uris = {key: publication.stage(path, key) for key, path in files.items()}
        links = {key: link for key, uri in uris.items() if (link := publication.link(uri))}
        manifest = build_manifest(uris, links)
        publication.commit(manifest.to_json())
    except BaseException:
        publication.abort()
        raise
    return manifest


def unpublish(manifest_uri: str) -> None:
    """Delete a published video's folder, its manifest first: a reader never sees a manifest that
    names deleted files."""
    folder = manifest_uri.rsplit("/", 1)[0]
    storage.at(folder).delete_folder(folder, first="manifest.json")
