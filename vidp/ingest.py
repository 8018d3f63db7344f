"""Bring a source into a per-video work directory, hashing its bytes on the way."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from pydantic import BaseModel

from vidp import storage
from vidp.errors import EmptyFile, RejectedInput, SourceNotFound, UnsupportedSource
from vidp.settings import get_settings
from vidp.storage import Store, UnsupportedStorage

__all__ = ["VideoRef", "StagedVideo", "ingest", "source_filename", "worked_on_here"]


class VideoRef(BaseModel):
    """A video as every later task receives it: its bytes' hash, nothing about this machine.

    It holds nothing about where the video came from either, so the same bytes under another
    name, location or worker hit the same cache entries.
    """

    sha256: str

    @property
    def video_id(self) -> str:
        return self.sha256[:16]

    @property
    def worked_on_here(self) -> bool:
        """Whether this machine has worked on the video: its work folder exists."""
        return self.work_dir.exists()

    @property
    def work_dir(self) -> Path:
        """This machine's work folder for the video (`VIDP_WORK_DIR/<video_id>`)."""
        return get_settings().work_dir / self.video_id

    @property
    def path(self) -> Path:
        """The local work copy of the source."""
        return self.work_dir / "source"

    def uri(self, name: str = "source") -> str:
        """Where any machine with the same settings reads the work file `name` (the source by
        default): the work store (`VIDP_WORK_STORE`), else this machine's work folder."""
        store = get_settings().work_store
        return f"{store}/{self.video_id}/{name}" if store else str(self.work_dir / name)

    def generation(self) -> str:
        """A token of this machine's work folder: renewed whenever the folder is recreated."""
        marker = self.work_dir / ".generation"
        if not marker.exists():
            # A worker that runs one segment of the video made no work folder for it yet.
            self.work_dir.mkdir(parents=True, exist_ok=True)
            draft = self.work_dir / f".generation-{uuid.uuid4().hex}"
            draft.write_text(uuid.uuid4().hex)
            try:
                os.link(draft, marker)  # atomic: when two runs race, the first link wins
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        return marker.read_text().strip()


class StagedVideo(BaseModel):
    """A source copied into the work directory (and the work store: `ref.uri()`), and where it
    came from (`uri`)."""

    ref: VideoRef
    uri: str
    filename: str
    size_bytes: int
    # Whether this ingest made the video's work folder on this machine: no step of a run on it
    # can then be served from this machine's cache (their keys name that folder).
    first_here: bool = False


class _HashingSink(io.RawIOBase):
    """Writes through to a file, hashing and counting on the way; not seekable, so S3
    downloads arrive in order."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.digest.update(data)
        self.size += len(data)
        return self.out.write(data)


def worked_on_here(path: Path) -> bool:
    """Whether this machine has worked on the video at `path` before: its work folder (named
    by its bytes' hash, as `ingest` names it) exists."""
    with path.open("rb") as f:
        return VideoRef(sha256=hashlib.file_digest(f, "sha256").hexdigest()).worked_on_here


def source_filename(uri: str) -> str:
    """The file name part of a path or URI, as the user would recognise it."""
    if "://" in uri:
        return PurePosixPath(unquote(urlparse(uri).path)).name
    return Path(uri).name


def _read(store: Store, uri: str, sink: BinaryIO) -> None:
    try:
        store.read_into(uri, sink)
    except FileNotFoundError as e:
        raise SourceNotFound(f"source not found: {store.local_path(uri) or uri}") from e
    except IsADirectoryError as e:
        raise RejectedInput(f"source is not a regular file: {store.local_path(uri)}") from e
    except UnsupportedStorage as e:  # a file:// URI with a remote host
        raise UnsupportedSource(str(e)) from None


def _share(ref: VideoRef) -> None:
    """Put the source in the work store, once per video (its name is its hash), so that a worker
    that did not ingest it reads it from `ref.uri()`."""
    store = get_settings().work_store
    if store and storage.at(store).stat(ref.uri()) is None:
        storage.at(store).put_file(ref.path, ref.uri())


def ingest(uri: str) -> StagedVideo:
    """Copy `uri` into `VIDP_WORK_DIR/<video_id>/`, hashing while copying. The source is only read."""
    store = storage.served(
        uri, "source", "a local path, a file:// URI or s3://bucket/key", UnsupportedSource
    )
    work_root = get_settings().work_dir
    work_root.mkdir(parents=True, exist_ok=True)
    incoming = work_root / f".incoming-{uuid.uuid4().hex}"
    try:
        with incoming.open("wb") as out:
            sink = _HashingSink(out)
            _read(store, uri, sink)  # type: ignore[arg-type]  # a write-only binary file
        size = sink.size
        if size == 0:
            raise EmptyFile(f"source is empty (0 bytes): {source_filename(uri)}")
        ref = VideoRef(sha256=sink.digest.hexdigest())
        first_here = not ref.worked_on_here
        ref.work_dir.mkdir(exist_ok=True)
        # No extension: ffmpeg probes the content, and the name stays the same for the same bytes.
        os.replace(incoming, ref.path)
    finally:
        incoming.unlink(missing_ok=True)
    _share(ref)
    if "://" not in uri:  # the manifest names local sources by absolute path
        uri = str(Path(uri).expanduser().resolve())
    return StagedVideo(
        ref=ref, uri=uri, filename=source_filename(uri), size_bytes=size, first_here=first_here
    )
