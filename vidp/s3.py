"""`s3://bucket/key`: S3 and S3-compatible servers as a `vidp.storage` store.

boto3's transfer manager moves the bytes (ranged GETs and multipart uploads for large files,
never all in memory); the client comes from `vidp.s3_credentials` (a Prefect block or the SDK's
chain), with botocore's retries for throttling, resets and stalls.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlparse

from botocore.exceptions import ClientError

from vidp.s3_credentials import s3_client
from vidp.storage import StoredObject, Writer

__all__ = ["S3Store", "parse_s3_uri"]

_MISSING = {"404", "NoSuchKey", "NoSuchBucket"}
_PART_BYTES = 8 * 1024 * 1024  # multipart part size of streamed uploads (5 MiB minimum)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` -> (`bucket`, `some/key`)."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return parsed.netloc, unquote(parsed.path.lstrip("/"))


def _folder(uri: str) -> tuple[str, str]:
    """`s3://bucket/prefix` as a folder: (`bucket`, `prefix/`)."""
    return parse_s3_uri(uri.rstrip("/") + "/")


def _missing(error: ClientError) -> bool:
    """Whether S3 answered that the object or bucket does not exist."""
    return error.response.get("Error", {}).get("Code") in _MISSING


def _content_type(key: str) -> str:
    # Browsers play presigned links only with the right type.
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


class S3Store:
    versioned = True

    def read_into(self, uri: str, sink: BinaryIO) -> None:
        name, key = parse_s3_uri(uri)
        try:
            s3_client().download_fileobj(name, key, sink)
        except ClientError as e:
            if _missing(e):
                raise FileNotFoundError(f"not found: {uri}") from e
            raise

    def get_file(self, uri: str, target: Path) -> None:
        with target.open("wb") as sink:
            self.read_into(uri, sink)

    def get_folder(self, uri: str, target: Path) -> None:
        name, prefix = _folder(uri)
        target.mkdir(parents=True, exist_ok=True)
        for found in self.list(f"s3://{name}/{prefix}"):
            key = parse_s3_uri(found.uri)[1]
            local = target / key.removeprefix(prefix)
            local.parent.mkdir(parents=True, exist_ok=True)
            s3_client().download_file(name, key, str(local))

    def put_file(self, local: Path, uri: str) -> None:
        name, key = parse_s3_uri(uri)
        # upload_file goes multipart above 8 MB.
        s3_client().upload_file(
            str(local), name, key, ExtraArgs={"ContentType": _content_type(key)}
        )

    def put_bytes(self, data: bytes, uri: str) -> None:
        name, key = parse_s3_uri(uri)
        s3_client().put_object(Bucket=name, Key=key, Body=data, ContentType=_content_type(key))

    def delete(self, uri: str) -> None:
        name, key = parse_s3_uri(uri)
        s3_client().delete_object(Bucket=name, Key=key)

    def delete_folder(self, uri: str, first: str) -> None:
        name, prefix = _folder(uri)
        client = s3_client()
        client.delete_object(Bucket=name, Key=prefix + first)
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})

    def stat(self, uri: str) -> StoredObject | None:
        name, key = parse_s3_uri(uri)
        try:
            head = s3_client().head_object(Bucket=name, Key=key)
        except ClientError as error:
            if _missing(error):
                return None
            raise
        return StoredObject(uri=uri, etag=head["ETag"], size=head["ContentLength"])

    def list(self, uri: str) -> list[StoredObject]:
        name, prefix = parse_s3_uri(uri)
        pages = s3_client().get_paginator("list_objects_v2").paginate(Bucket=name, Prefix=prefix)
        return [
            StoredObject(uri=f"s3://{name}/{item['Key']}", etag=item["ETag"], size=item["Size"])
            for page in pages
            for item in page.get("Contents", [])
        ]

    def link(self, uri: str, expiry_s: int) -> str | None:
        name, key = parse_s3_uri(uri)
        return s3_client().generate_presigned_url(
            "get_object", Params={"Bucket": name, "Key": key}, ExpiresIn=expiry_s
        )

    def local_path(self, uri: str) -> Path | None:
        return None

    def writer(self, uri: str, content_type: str) -> Writer:
        return _MultipartWriter(uri, content_type)

    def check_writable(self, uri: str) -> None:
        s3_client().head_bucket(Bucket=_folder(uri)[0])


class _MultipartWriter:
    """An S3 multipart upload: parts of 8 MiB, so at most one part is in memory."""

    def __init__(self, uri: str, content_type: str) -> None:
        self.uri = uri
        self.bucket, self.key = parse_s3_uri(uri)
        self.client = s3_client()
        self.upload = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=self.key, ContentType=content_type
        )["UploadId"]
        self.parts: list[dict[str, Any]] = []
        self.buffer = bytearray()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.buffer += data
        self.size += len(data)
        while len(self.buffer) >= _PART_BYTES:
            self._send(bytes(self.buffer[:_PART_BYTES]))
            del self.buffer[:_PART_BYTES]

    def _send(self, data: bytes) -> None:
        number = len(self.parts) + 1
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload, PartNumber=number, Body=data
        )
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def commit(self) -> StoredObject:
        if self.buffer or not self.parts:
            self._send(bytes(self.buffer))
        done = self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload,
            MultipartUpload={"Parts": self.parts},
        )
        return StoredObject(uri=self.uri, etag=done["ETag"], size=self.size)

    def abort(self) -> None:
        self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload)
