"""Multipart video uploads streamed to storage: hashed, counted and type-checked on the way.

The body is parsed as it arrives (python-multipart's push parser), so a video is never held whole in
memory or spooled twice: each chunk goes straight to storage (a local file, an S3 multipart upload).
Too large or not a video, the upload is aborted and nothing is left in storage.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import anyio.to_thread
from pydantic import BaseModel
from python_multipart.exceptions import ParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from vidp import storage
from vidp.storage import StoredObject, Writer
from vidp.sweep import VIDEO_SUFFIXES

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

__all__ = [
    "BadUpload",
    "NotAVideo",
    "Received",
    "UploadTooLarge",
    "delete_upload",
    "still_stored",
    "looks_like_video",
    "receive_upload",
]

_SNIFF_BYTES = 4096


class BadUpload(ValueError):
    """The request is not a multipart form with a `file` part."""


class UploadTooLarge(ValueError):
    """The upload is larger than the gateway accepts."""


class NotAVideo(ValueError):
    """The upload's type, name or first bytes say it is not a video."""


class Received(BaseModel):
    """An upload, stored whole."""

    sha256: str
    size_bytes: int
    filename: str
    uri: str  # where it was stored: the run's source
    idempotency_key: str  # what `sweep-uploads` would use for the same object
    fields: dict[str, str]  # the form's other fields (title, tags)

    @property
    def video_id(self) -> str:
        return self.sha256[:16]


def looks_like_video(head: bytes) -> bool:
    """Whether the first bytes are those of a video container ffmpeg reads."""
    return (
        head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")  # MP4, MOV, 3GP
        or head.startswith(b"\x1a\x45\xdf\xa3")  # Matroska, WebM
        or (head.startswith(b"RIFF") and head[8:12] == b"AVI ")
        or head.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"))  # MPEG program stream
        or (head[:1] == b"\x47" and head[188:189] == b"\x47")  # MPEG transport stream
        or head.startswith((b"FLV", b"OggS", b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"))  # FLV, Ogg, ASF
    )


def _safe_name(filename: str) -> str:
    name = re.sub(r"[\x00-\x1f/\\]", "_", PurePosixPath(filename.replace("\\", "/")).name).strip()
    return name.lstrip(".") or "upload"


class _FilePart:
    """The `file` part as it streams: checked, hashed and counted before it reaches the sink."""

    def __init__(self, target: str, filename: str, content_type: str, limit: int) -> None:
        self.name = _safe_name(filename)
        if PurePosixPath(self.name).suffix.lower() not in VIDEO_SUFFIXES:
            raise NotAVideo(f"{self.name!r} does not have a video file extension")
        if not (content_type.startswith("video/") or content_type == "application/octet-stream"):
            raise NotAVideo(f"content type {content_type!r} is not a video type")
        self.target, self.limit = target, limit
        self.digest, self.size, self.head = hashlib.sha256(), 0, b""
        self.store = storage.at(target)
        self.upload_id = uuid.uuid4().hex
        self.sink: Writer | None = None

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise UploadTooLarge(f"the upload is larger than {self.limit} bytes")
        self.digest.update(data)
        sink = self.sink
        if sink is None:  # the sink opens once the first bytes look like a video
            self.head += data
            if len(self.head) < _SNIFF_BYTES:
                return
            sink = self._open()
            data, self.head = self.head, b""
        sink.write(data)

    def _open(self) -> Writer:
        if not looks_like_video(self.head):
            raise NotAVideo(f"{self.name!r} is not a video container ffmpeg reads")
        folder = self.store.local_path(self.target)
        root = str(folder.resolve()) if folder is not None else self.target.rstrip("/")
        content_type = mimetypes.guess_type(self.name)[0] or "application/octet-stream"
        self.sink = self.store.writer(f"{root}/{self.upload_id}/{self.name}", content_type)
        return self.sink

    def finish(self) -> StoredObject:
        """Store the rest and make the object visible; return it as stored."""
        sink = self.sink
        if sink is None:
            if not self.head:
                raise BadUpload("the file part is empty")
            sink = self._open()
            sink.write(self.head)
        return sink.commit()

    def abort(self) -> None:
        if self.sink is not None:
            self.sink.abort()


async def receive_upload(
    content_type: str, body: AsyncIterator[bytes], target: str, limit: int
) -> Received:
    """Parse a multipart body with one `file` part (and small text fields) into storage."""
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or b"boundary" not in options:
        raise BadUpload("send the video as multipart/form-data with a `file` part")
    state = _FormState(target, limit)
    parser = MultipartParser(options[b"boundary"], state.callbacks())
    try:
        try:
            async for chunk in body:
                parser.write(chunk)
                await state.flush()
            parser.finalize()
        except ParseError as e:
            raise BadUpload(f"malformed multipart body: {e}") from None
        await state.flush()
        if state.file is None:
            raise BadUpload("the form has no `file` part")
        stored = await anyio.to_thread.run_sync(state.file.finish)
    except BaseException:
        if state.file is not None:
            await anyio.to_thread.run_sync(state.file.abort)
        raise
    file = state.file
    return Received(
        sha256=file.digest.hexdigest(),
        size_bytes=file.size,
        filename=file.name,
        uri=stored.uri,
        # An object's version keys it as a sweep of the bucket would; a file, its upload.
        idempotency_key=stored.idempotency_key
        if file.store.versioned
        else f"upload/{file.upload_id}",
        fields=state.fields,
    )


class _FormState:
    """The parser's callbacks: headers of each part, small fields in memory, the file streamed."""

    _FIELD_LIMIT = 64 * 1024

    def __init__(self, target: str, limit: int) -> None:
        self.target, self.limit = target, limit
        self.fields: dict[str, str] = {}
        self.file: _FilePart | None = None
        self.pending = bytearray()  # file bytes parsed but not yet written
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._field, self._value = b"", b""
        self._in_file, self._text = False, bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._add("_field", d[s:e]),
            "on_header_value": lambda d, s, e: self._add("_value", d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _add(self, name: str, data: bytes) -> None:
        setattr(self, name, getattr(self, name) + data)

    def _part_begin(self) -> None:
        self._headers, self._text = {}, bytearray()

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, disposition = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = disposition.get(b"name", b"").decode()
        self._in_file = self._name == "file"
        if self._in_file:
            if self.file is not None:
                raise BadUpload("send one `file` part per upload")
            self.file = _FilePart(
                self.target,
                disposition.get(b"filename", b"").decode("utf-8", "replace"),
                self._headers.get(b"content-type", b"application/octet-stream").decode(),
                self.limit,
            )

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.pending += data[start:end]
        else:
            self._text += data[start:end]
            if len(self._text) > self._FIELD_LIMIT:
                raise BadUpload(f"form field {self._name!r} is too long")

    def _part_end(self) -> None:
        if not self._in_file:
            self.fields[self._name] = self._text.decode("utf-8", "replace")

    async def flush(self) -> None:
        """Hand what was parsed to the file part, off the event loop (it may upload to S3)."""
        if self.pending and self.file is not None:
            data, self.pending = bytes(self.pending), bytearray()
            await anyio.to_thread.run_sync(self.file.write, data)


def delete_upload(uri: str) -> None:
    """Delete an upload the gateway stored (its own folder or key prefix)."""
    storage.at(uri).delete(uri)


def still_stored(uri: str) -> bool:
    """Whether the object or file at `uri` is still there."""
    return storage.at(uri).stat(uri) is not None
