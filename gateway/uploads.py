"""Multipart video uploads streamed to storage: hashed, counted and type-checked on the way.

The body is parsed as it arrives (python-multipart's push parser), so a video is never held whole in
memory or spooled twice: each chunk goes straight to a local file or to an S3 multipart upload.
Too large or not a video, the upload is aborted and nothing is left in storage.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol

import anyio.to_thread
from pydantic import BaseModel
from python_multipart.exceptions import ParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from vidp.s3 import bucket, parse_s3_uri
from vidp.sweep import VIDEO_SUFFIXES, UploadObject

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

_PART_BYTES = 8 * 1024 * 1024  # S3 multipart part size (5 MiB minimum)
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


class _Sink(Protocol):
    uri: str

    def write(self, data: bytes) -> None: ...
    def commit(self) -> str:
        """Make the object visible; return its ETag or another identity of this version."""
        ...

    def abort(self) -> None: ...


class _LocalSink:
    def __init__(self, root: Path, upload_id: str, name: str) -> None:
        self.path = root / upload_id / name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.draft = self.path.with_name(f".{name}.part")
        self.file = self.draft.open("wb")
        self.uri = str(self.path)

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def commit(self) -> str:
        self.file.close()
        os.replace(self.draft, self.path)
        return self.path.parent.name

    def abort(self) -> None:
        self.file.close()
        self.draft.unlink(missing_ok=True)
        self.path.parent.rmdir()


class _S3Sink:
    """An S3 multipart upload: parts of 8 MiB, so at most one part is in memory."""

    def __init__(self, target: str, upload_id: str, name: str) -> None:
        bucket_name, prefix = parse_s3_uri(target.rstrip("/") + "/")
        self.bucket, self.key = bucket_name, f"{prefix}{upload_id}/{name}"
        self.client = bucket(bucket_name).credentials.get_s3_client()
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        self.upload = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=self.key, ContentType=content_type
        )["UploadId"]
        self.parts: list[dict[str, object]] = []
        self.buffer = bytearray()
        self.uri = f"s3://{self.bucket}/{self.key}"

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= _PART_BYTES:
            self._send(bytes(self.buffer[:_PART_BYTES]))
            del self.buffer[:_PART_BYTES]

    def _send(self, data: bytes) -> None:
        number = len(self.parts) + 1
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload, PartNumber=number, Body=data
        )
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def commit(self) -> str:
        if self.buffer or not self.parts:
            self._send(bytes(self.buffer))
        done = self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload,
            MultipartUpload={"Parts": self.parts},
        )
        return done["ETag"]

    def abort(self) -> None:
        self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload)


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
        self.sink: _Sink | None = None

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

    def _open(self) -> _Sink:
        if not looks_like_video(self.head):
            raise NotAVideo(f"{self.name!r} is not a video container ffmpeg reads")
        upload_id = uuid.uuid4().hex
        if self.target.startswith("s3://"):
            self.sink = _S3Sink(self.target, upload_id, self.name)
        else:
            self.sink = _LocalSink(Path(self.target).expanduser().resolve(), upload_id, self.name)
        return self.sink

    def finish(self) -> tuple[str, str]:
        """Store the rest and make the object visible; return its URI and identity."""
        sink = self.sink
        if sink is None:
            if not self.head:
                raise BadUpload("the file part is empty")
            sink = self._open()
            sink.write(self.head)
        return sink.uri, sink.commit()

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
        uri, identity = await anyio.to_thread.run_sync(state.file.finish)
    except BaseException:
        if state.file is not None:
            await anyio.to_thread.run_sync(state.file.abort)
        raise
    file = state.file
    if uri.startswith("s3://"):
        name, key = parse_s3_uri(uri)
        idempotency_key = UploadObject(
            bucket=name, key=key, etag=identity, size=file.size
        ).idempotency_key
    else:
        idempotency_key = f"upload/{identity}"
    return Received(
        sha256=file.digest.hexdigest(),
        size_bytes=file.size,
        filename=file.name,
        uri=uri,
        idempotency_key=idempotency_key,
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
    if uri.startswith("s3://"):
        from vidp.s3 import delete_object

        delete_object(uri)
        return
    path = Path(uri)
    path.unlink(missing_ok=True)
    if path.parent.exists() and not any(path.parent.iterdir()):
        path.parent.rmdir()


def still_stored(uri: str) -> bool:
    """Whether the object or file at `uri` is still there."""
    if uri.startswith("s3://"):
        from vidp.sweep import current_version

        return current_version(uri) is not None
    return Path(uri).is_file()
