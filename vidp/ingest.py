"""Bring a source into a per-video work directory, hashing its bytes on the way."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from pydantic import BaseModel

from vidp.errors import EmptyFile, RejectedInput, SourceNotFound, UnsupportedSource
from vidp.settings import get_settings

__all__ = ["VideoRef", "StagedVideo", "ingest", "source_filename"]

_CHUNK = 1 << 20

# scheme -> fetcher: writes the source's bytes, in order, into a sink. The rest of the
# pipeline only sees the local copy.
Fetcher = Callable[[str, BinaryIO], None]


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
    def work_dir(self) -> Path:
        """This machine's work folder for the video (`VIDP_WORK_DIR/<video_id>`)."""
        return get_settings().work_dir / self.video_id

    @property
    def path(self) -> Path:
        """The local work copy of the source."""
        return self.work_dir / "source"

    def generation(self) -> str:
        """A token of this machine's work folder: renewed whenever the folder is recreated."""
        marker = self.work_dir / ".generation"
        if not marker.exists():
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
    """A source copied into the work directory, and where it came from."""

    ref: VideoRef
    uri: str
    filename: str
    size_bytes: int


def _local_path(uri: str) -> Path:
    if uri.startswith("file://"):
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise UnsupportedSource(f"file:// URI with a remote host is not supported: {uri}")
        return Path(unquote(parsed.path))
    return Path(uri).expanduser()


def _fetch_local(uri: str, sink: BinaryIO) -> None:
    path = _local_path(uri)
    if not path.exists():
        raise SourceNotFound(f"source not found: {path}")
    if not path.is_file():
        raise RejectedInput(f"source is not a regular file: {path}")
    with path.open("rb") as stream:
        shutil.copyfileobj(stream, sink, _CHUNK)


def _fetch_s3(uri: str, sink: BinaryIO) -> None:
    from vidp.s3 import download

    download(uri, sink)


_FETCHERS: dict[str, Fetcher] = {"": _fetch_local, "file": _fetch_local, "s3": _fetch_s3}


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


def source_filename(uri: str) -> str:
    """The file name part of a path or URI, as the user would recognise it."""
    if "://" in uri:
        return PurePosixPath(unquote(urlparse(uri).path)).name
    return Path(uri).name


def _fetcher(uri: str) -> Fetcher:
    scheme = urlparse(uri).scheme if "://" in uri else ""
    try:
        return _FETCHERS[scheme]
    except KeyError:
        raise UnsupportedSource(
            f"unsupported source {uri!r}: give a local path, a file:// URI or s3://bucket/key"
        ) from None


def ingest(uri: str) -> StagedVideo:
    """Copy `uri` into `VIDP_WORK_DIR/<video_id>/`, hashing while copying. The source is only read."""
    fetch = _fetcher(uri)
    work_root = get_settings().work_dir
    work_root.mkdir(parents=True, exist_ok=True)
    incoming = work_root / f".incoming-{uuid.uuid4().hex}"
    try:
        with incoming.open("wb") as out:
            sink = _HashingSink(out)
            fetch(uri, sink)  # type: ignore[arg-type]  # a write-only binary file
        size = sink.size
        if size == 0:
            raise EmptyFile(f"source is empty (0 bytes): {source_filename(uri)}")
        ref = VideoRef(sha256=sink.digest.hexdigest())
        ref.work_dir.mkdir(exist_ok=True)
        # No extension: ffmpeg probes the content, and the name stays the same for the same bytes.
        os.replace(incoming, ref.path)
    finally:
        incoming.unlink(missing_ok=True)
    if "://" not in uri:  # the manifest names local sources by absolute path
        uri = str(Path(uri).expanduser().resolve())
    return StagedVideo(ref=ref, uri=uri, filename=source_filename(uri), size_bytes=size)
