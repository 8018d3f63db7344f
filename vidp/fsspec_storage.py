"""`gs://`, `az://`, `abfs://` and `memory://` as `vidp.storage` stores, through fsspec.

Each scheme's filesystem is a package of its own (gcsfs, adlfs), installed where it is used and
configured as that package reads its credentials (`GOOGLE_APPLICATION_CREDENTIALS`,
`AZURE_STORAGE_CONNECTION_STRING`, ...). `memory://` is fsspec's own, one per process: tests use
it to show the pipeline needs nothing of a store beyond this interface.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, BinaryIO

import fsspec

from vidp.storage import MissingPackage, Store, StoredObject, UnsupportedStorage, Writer

__all__ = ["PACKAGES", "FsspecStore", "fsspec_store"]

# scheme -> the package whose fsspec filesystem serves it
PACKAGES = {"gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs", "memory": "fsspec"}


def fsspec_store(scheme: str) -> Store:
    """The store for `scheme`; UnsupportedStorage for a scheme vidp does not use, or one whose
    package is not installed (the message names it)."""
    package = PACKAGES.get(scheme)
    if package is None:
        raise UnsupportedStorage(f"no store serves {scheme}:// URIs")
    try:
        return FsspecStore(fsspec.filesystem(scheme), scheme)
    except ImportError as e:
        raise MissingPackage(f"{scheme}:// needs {package}: pip install {package}") from e


class FsspecStore:
    versioned = True

    def __init__(self, fs: fsspec.AbstractFileSystem, scheme: str) -> None:
        self.fs, self.scheme = fs, scheme

    def read_into(self, uri: str, sink: BinaryIO) -> None:
        with self.fs.open(uri, "rb") as stream:  # FileNotFoundError when there is none
            shutil.copyfileobj(stream, sink, 1 << 20)

    def get_file(self, uri: str, target: Path) -> None:
        self.fs.get_file(uri, str(target))

    def get_folder(self, uri: str, target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        root = self.fs._strip_protocol(uri).rstrip("/") + "/"
        for path in self.fs.find(uri):
            local = target / path.removeprefix(root)
            local.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(path, str(local))

    def put_file(self, local: Path, uri: str) -> None:
        self.fs.put_file(str(local), uri)

    def put_bytes(self, data: bytes, uri: str) -> None:
        self.fs.pipe_file(uri, data)

    def delete(self, uri: str) -> None:
        if self.fs.exists(uri):
            self.fs.rm_file(uri)

    def delete_folder(self, uri: str, first: str) -> None:
        self.delete(uri.rstrip("/") + "/" + first)
        for path in self.fs.find(uri):
            self.fs.rm_file(path)

    def stat(self, uri: str) -> StoredObject | None:
        try:
            info = self.fs.info(uri)
        except FileNotFoundError:
            return None
        return self._object(info) if info["type"] == "file" else None

    def list(self, uri: str) -> list[StoredObject]:
        return [self._object(info) for info in self.fs.find(uri, detail=True).values()]

    def _object(self, info: dict[str, Any]) -> StoredObject:
        version = next((info[k] for k in ("ETag", "etag", "md5Hash", "created") if k in info), "")
        uri = f"{self.scheme}://{info['name'].lstrip('/')}"  # memory:// names start with /
        return StoredObject(uri=uri, etag=str(version), size=info["size"])

    def link(self, uri: str, expiry_s: int) -> str | None:
        try:
            return self.fs.sign(uri, expiration=expiry_s)
        except NotImplementedError:  # memory://, and filesystems without signed URLs
            return None

    def local_path(self, uri: str) -> Path | None:
        return None

    def writer(self, uri: str, content_type: str) -> Writer:
        return _FileWriter(self, uri)

    def check_writable(self, uri: str) -> None:
        probe = uri.rstrip("/") + "/.vidp-write-check"
        self.fs.pipe_file(probe, b"")
        self.fs.rm_file(probe)


class _FileWriter:
    """fsspec's buffered file: object stores make it visible when it is closed."""

    def __init__(self, store: FsspecStore, uri: str) -> None:
        self.store, self.uri = store, uri
        self.file = store.fs.open(uri, "wb")

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def commit(self) -> StoredObject:
        self.file.close()
        stored = self.store.stat(self.uri)
        if stored is None:
            raise FileNotFoundError(f"{self.uri} was written but is not there")
        return stored

    def abort(self) -> None:
        discard = getattr(self.file, "discard", None)  # buffered object-store files
        if discard is not None:
            discard()
        else:
            self.file.close()
            self.store.delete(self.uri)
