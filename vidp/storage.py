"""Where videos, work files and results are stored: one interface, chosen by the URI's scheme.

- a local path or `file://` URI: this machine's file system (or a volume every worker mounts);
- `s3://bucket/key`: S3 or an S3-compatible server, through the configured Prefect credentials
  block or the AWS SDK's own chain (`vidp.s3`);
- `gs://`, `az://`, `abfs://` (and `memory://`): through fsspec, when its filesystem for the
  scheme (gcsfs, adlfs) is installed (`vidp.fsspec_storage`).

Ingest, publishing, the work store, the upload sweep and the gateway reach storage only through
`at(uri)`; no other module looks at a URI's scheme.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import unquote, urlparse

from pydantic import BaseModel

__all__ = [
    "MissingPackage",
    "StoredObject",
    "Store",
    "UnsupportedStorage",
    "Writer",
    "at",
    "served",
    "read_in_place",
    "LocalStore",
]

_CHUNK = 1 << 20


class UnsupportedStorage(ValueError):
    """No store serves the URI's scheme (or the package that would is not installed)."""


class MissingPackage(UnsupportedStorage):
    """The scheme is served by a package that is not installed (the message names it)."""


class StoredObject(BaseModel):
    """One version of a stored file: where it is, an identity of this version, its size."""

    uri: str
    etag: str  # S3's ETag; elsewhere whatever changes when the content is replaced
    size: int

    @property
    def idempotency_key(self) -> str:
        """Same object version, same key: a second sweep or event finds the first run."""
        return f"{self.uri.partition('://')[2] or self.uri}/{self.etag.strip(chr(34))}"


class Writer(Protocol):
    """A file being written in order; invisible to readers until `commit`."""

    uri: str

    def write(self, data: bytes) -> None: ...

    def commit(self) -> StoredObject:
        """Make the file visible; return what is stored now."""
        ...

    def abort(self) -> None:
        """Drop what was written; nothing is left."""
        ...


class Store(Protocol):
    """The operations vidp needs from a storage system. URIs are whole (scheme included)."""

    versioned: bool  # an object's version (its ETag) names it: re-uploads are new versions

    def read_into(self, uri: str, sink: BinaryIO) -> None:
        """Write the file's bytes into `sink`, in order, never all in memory.
        FileNotFoundError when there is no such file."""

    def get_file(self, uri: str, target: Path) -> None:
        """Copy the file to `target`. FileNotFoundError when there is none."""

    def get_folder(self, uri: str, target: Path) -> None:
        """Copy every file under the folder `uri` into `target` (none: an empty folder)."""

    def put_file(self, local: Path, uri: str) -> None:
        """Store a local file at `uri`, replacing what was there."""

    def put_bytes(self, data: bytes, uri: str) -> None:
        """Store `data` at `uri` in one write: readers see all of it or none."""

    def delete(self, uri: str) -> None:
        """Delete the file; a missing one is not an error."""

    def delete_folder(self, uri: str, first: str) -> None:
        """Delete every file under the folder `uri`, the one named `first` before the others."""

    def stat(self, uri: str) -> StoredObject | None:
        """The file as it is now, or None if there is none. Other errors (access, throttling)
        are raised: they say nothing about the file."""

    def list(self, uri: str) -> list[StoredObject]:
        """Every file under the folder or prefix `uri`."""

    def link(self, uri: str, expiry_s: int) -> str | None:
        """An HTTPS link that serves the file for `expiry_s` seconds, where the store has one."""

    def local_path(self, uri: str) -> Path | None:
        """The file's path on this machine, for a store that is a local file system."""

    def writer(self, uri: str, content_type: str) -> Writer:
        """A file to write at `uri` in order (uploads as they stream in)."""

    def check_writable(self, uri: str) -> None:
        """Raise, with the reason, when files cannot be written under the folder `uri`."""


def at(uri: str) -> Store:
    """The store that serves `uri`. UnsupportedStorage when none does."""
    scheme = urlparse(uri).scheme if "://" in uri else ""
    make = _STORES.get(scheme)
    if make is not None:
        return make()
    from vidp.fsspec_storage import fsspec_store

    return fsspec_store(scheme)


def served(uri: str, role: str, forms: str, error: type[Exception]) -> Store:
    """`at(uri)`, or `error` in one line a user can act on: the package to install, or the
    `forms` of URI that are served."""
    try:
        return at(uri)
    except MissingPackage as e:
        raise error(f"unsupported {role} {uri!r}: {e}") from None
    except UnsupportedStorage:
        raise error(f"unsupported {role} {uri!r}: give {forms}") from None


def read_in_place(uri: str, expiry_s: int) -> Path | str:
    """Where ffmpeg reads the stored file `uri` without a copy: its path, or a signed HTTP URL
    that ffmpeg reads in ranges (valid `expiry_s`). UnsupportedStorage where there is neither."""
    store = at(uri)
    where = store.local_path(uri) or store.link(uri, expiry_s)
    if where is None:
        raise UnsupportedStorage(f"{uri} cannot be read in place: no path and no signed URL")
    return where


def _s3() -> Store:
    from vidp.s3 import S3Store

    return S3Store()


class LocalStore:
    """This machine's file system. Files are written beside their target and renamed into place,
    so a reader never sees half of one; a folder left empty by a delete goes too, as a prefix
    does in object storage."""

    versioned = False

    @staticmethod
    def path(uri: str) -> Path:
        if uri.startswith("file://"):
            parsed = urlparse(uri)
            if parsed.netloc not in ("", "localhost"):
                raise UnsupportedStorage(f"file:// URI with a remote host is not supported: {uri}")
            return Path(unquote(parsed.path))
        return Path(uri).expanduser()

    def read_into(self, uri: str, sink: BinaryIO) -> None:
        path = self.path(uri)
        if not path.exists():
            raise FileNotFoundError(f"not found: {path}")
        if not path.is_file():
            raise IsADirectoryError(f"not a regular file: {path}")
        with path.open("rb") as stream:
            shutil.copyfileobj(stream, sink, _CHUNK)

    def get_file(self, uri: str, target: Path) -> None:
        shutil.copyfile(self.path(uri), target)

    def get_folder(self, uri: str, target: Path) -> None:
        source = self.path(uri)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)

    def put_file(self, local: Path, uri: str) -> None:
        self._replace(self.path(uri), lambda draft: shutil.copyfile(local, draft))

    def put_bytes(self, data: bytes, uri: str) -> None:
        self._replace(self.path(uri), lambda draft: draft.write_bytes(data))

    @staticmethod
    def _replace(target: Path, write: Callable[[Path], object]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        draft = target.with_name(f".{target.name}.partial")
        write(draft)
        os.replace(draft, target)

    def delete(self, uri: str) -> None:
        path = self.path(uri)
        path.unlink(missing_ok=True)
        if path.parent.is_dir() and not any(path.parent.iterdir()):
            path.parent.rmdir()

    def delete_folder(self, uri: str, first: str) -> None:
        root = self.path(uri)
        (root / first).unlink(missing_ok=True)
        shutil.rmtree(root, ignore_errors=True)

    def stat(self, uri: str) -> StoredObject | None:
        path = self.path(uri)
        return _local_object(path, uri) if path.is_file() else None

    def list(self, uri: str) -> list[StoredObject]:
        root = self.path(uri)
        found = [self.stat(str(p)) for p in sorted(root.rglob("*")) if p.is_file()]
        return [f for f in found if f is not None]

    def link(self, uri: str, expiry_s: int) -> str | None:
        return None

    def local_path(self, uri: str) -> Path | None:
        return self.path(uri)

    def writer(self, uri: str, content_type: str) -> Writer:
        return _LocalWriter(self.path(uri))

    def check_writable(self, uri: str) -> None:
        folder = self.path(uri)
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(f"{folder} is not writable")


class _LocalWriter:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.uri = path, str(path)
        self.draft = path.with_name(f".{path.name}.part")
        self.file = self.draft.open("wb")

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def commit(self) -> StoredObject:
        self.file.close()
        os.replace(self.draft, self.path)
        return _local_object(self.path, self.uri)

    def abort(self) -> None:
        self.file.close()
        LocalStore().delete(str(self.draft))


def _local_object(path: Path, uri: str) -> StoredObject:
    st = path.stat()  # a replaced file has a new modification time
    return StoredObject(uri=uri, etag=f"{st.st_mtime_ns:x}-{st.st_size:x}", size=st.st_size)


_STORES: dict[str, Callable[[], Store]] = {"": LocalStore, "file": LocalStore, "s3": _s3}
