"""Object storage through prefect-aws blocks: `s3://` sources and outputs, presigned links.

Credentials follow the AWS SDK's own chain (environment, profile, instance role, and
`AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3` for S3-compatible servers) unless
`VIDP_S3_CREDENTIALS_BLOCK` names a Prefect block (`aws-credentials/<name>` or
`minio-credentials/<name>`), which then wins.
"""

from __future__ import annotations

import json
import mimetypes
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote, urlparse

from botocore.exceptions import ClientError

from vidp.errors import SourceNotFound
from vidp.settings import get_settings

if TYPE_CHECKING:
    from prefect_aws import AwsCredentials, MinIOCredentials, S3Bucket

__all__ = [
    "S3Storage",
    "bucket",
    "client_config",
    "credentials",
    "download",
    "is_missing",
    "parse_s3_uri",
    "presign",
]

_MISSING = {"404", "NoSuchKey", "NoSuchBucket"}


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` -> (`bucket`, `some/key`)."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return parsed.netloc, unquote(parsed.path.lstrip("/"))


@lru_cache
def credentials() -> AwsCredentials | MinIOCredentials:
    """The named credentials block, else the SDK's default chain; loaded once per process."""
    from prefect.blocks.core import Block
    from prefect_aws import AwsClientParameters, AwsCredentials

    settings = get_settings()
    if settings.s3_credentials_block:
        return Block.load(settings.s3_credentials_block)  # type: ignore[return-value]  # sync here
    return AwsCredentials(
        aws_client_parameters=AwsClientParameters(config=client_config(settings.s3_timeout_s))
    )


def client_config(timeout_s: float, env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """botocore's client settings: throttling (SlowDown, 503), 5xx answers, resets and stalls
    are retried with backoff, `AWS_MAX_ATTEMPTS` times (default 10, as the SDK reads it);
    a connection that sends nothing for `timeout_s` counts as dropped."""
    return {
        "retries": {
            "mode": env.get("AWS_RETRY_MODE", "adaptive"),
            "max_attempts": int(env.get("AWS_MAX_ATTEMPTS", "10")),
        },
        "connect_timeout": timeout_s,
        "read_timeout": timeout_s,
        # The gateway asks from up to 40 threads at once; botocore's default pool keeps 10.
        "max_pool_connections": 50,
    }


def bucket(name: str) -> S3Bucket:
    from prefect_aws import S3Bucket

    return S3Bucket(bucket_name=name, credentials=credentials())


def download(uri: str, sink: BinaryIO) -> None:
    """Stream the object into `sink` in order (ranged GETs for large objects, never all in memory)."""
    name, key = parse_s3_uri(uri)
    try:
        bucket(name).download_object_to_file_object(key, sink)
    except ClientError as e:
        if is_missing(e):
            raise SourceNotFound(f"source not found: {uri}") from e
        raise


def is_missing(error: ClientError) -> bool:
    """Whether S3 answered that the object or bucket does not exist."""
    return error.response.get("Error", {}).get("Code") in _MISSING


def presign(uri: str, expiry_s: int) -> str:
    """An HTTPS link that serves the object (Range requests included) for `expiry_s` seconds."""
    name, key = parse_s3_uri(uri)
    client = credentials().get_s3_client()
    return client.generate_presigned_url(
        "get_object", Params={"Bucket": name, "Key": key}, ExpiresIn=expiry_s
    )


class S3Storage:
    """`s3://bucket/prefix`: objects uploaded under `prefix/<video_id>/`, the manifest last.

    S3 has no rename, so an earlier manifest of the same video is deleted first: while the new
    objects go up, readers see the video as not done, never a manifest naming half-written files.
    """

    def __init__(self, output: str, video_id: str) -> None:
        name, prefix = parse_s3_uri(output.rstrip("/") + "/")
        self.bucket = bucket(name)
        self.root = f"{prefix}{video_id}/"
        self.uri = f"s3://{name}/{self.root}"
        self.uploaded: list[str] = []

    def begin(self) -> None:
        self._client().delete_object(
            Bucket=self.bucket.bucket_name, Key=self.root + "manifest.json"
        )

    def stage(self, local: Path, key: str) -> str:
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        # upload_file goes multipart above 8 MB; the content type lets browsers play the links.
        self.bucket.upload_from_path(
            local, self.root + key, ExtraArgs={"ContentType": content_type}
        )
        self.uploaded.append(self.root + key)
        return self.uri + key

    def link(self, uri: str) -> str:
        return presign(uri, get_settings().presign_expiry_s)

    def commit(self, manifest: dict[str, Any]) -> str:
        body = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
        self._client().put_object(
            Bucket=self.bucket.bucket_name,
            Key=self.root + "manifest.json",
            Body=body,
            ContentType="application/json",
        )
        return self.uri + "manifest.json"

    def abort(self) -> None:
        client = self._client()
        for key in self.uploaded:
            client.delete_object(Bucket=self.bucket.bucket_name, Key=key)

    def _client(self) -> Any:
        return self.bucket.credentials.get_s3_client()


def delete_prefix(uri: str, first: str) -> None:
    """Delete every object under `s3://bucket/prefix/`, the key `first` before the others."""
    name, prefix = parse_s3_uri(uri.rstrip("/") + "/")
    client = credentials().get_s3_client()
    client.delete_object(Bucket=name, Key=prefix + first)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})


def delete_object(uri: str) -> None:
    name, key = parse_s3_uri(uri)
    credentials().get_s3_client().delete_object(Bucket=name, Key=key)
