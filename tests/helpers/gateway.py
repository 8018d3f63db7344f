"""The gateway as its clients meet it: `vidp gateway` under uvicorn on a free port, and the
signed notifications, uploads and requests they send it."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx

from helpers.processes import free_port, serving
from helpers.repo import REPO

__all__ = [
    "SECRET",
    "API_KEY",
    "NOTIFY_TOKEN",
    "DEPLOYMENT",
    "MAX_UPLOAD",
    "Gateway",
    "gateway_process",
    "gateway_env",
    "deploy_unserved",
    "signed",
    "notification",
    "post",
    "stream_oversized_upload",
]

SECRET = "gateway-test-secret"
API_KEY = "gateway-test-key"
NOTIFY_TOKEN = "gateway-test-minio-token"
DEPLOYMENT = "process-video/gateway-test"
MAX_UPLOAD = 8 * 1024 * 1024


class Gateway(NamedTuple):
    url: str
    uploads: Path  # VIDP_GATEWAY_UPLOADS
    output: Path  # VIDP_OUTPUT of the gateway and of workers started with `gateway.env`
    env: dict[str, str]


@contextmanager
def gateway_process(env: dict[str, str], log: Path) -> Iterator[str]:
    """`vidp gateway` on a free port with `env`, while the block runs; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "vidp.cli", "gateway", "--port", str(port)]
    with serving(command, env, log, f"{url}/openapi.json", timeout_s=60):
        yield url


def gateway_env(home: Path, deployment: str) -> dict[str, str]:
    """This environment plus the gateway's settings: the keys above, uploads and outputs under
    `home`, runs of `deployment`."""
    return {
        **os.environ,
        "VIDP_GATEWAY_SECRET": SECRET,
        "VIDP_GATEWAY_NOTIFY_TOKEN": NOTIFY_TOKEN,
        "VIDP_GATEWAY_API_KEYS": f"other-key,{API_KEY}",
        "VIDP_GATEWAY_DEPLOYMENT": deployment,
        "VIDP_GATEWAY_UPLOADS": str(home / "uploads"),
        "VIDP_GATEWAY_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
        "VIDP_GATEWAY_RUN_SOURCES": "s3://,/videos/",  # and a shared disk the workers mount
        "VIDP_OUTPUT": str(home / "output"),
    }


def deploy_unserved() -> str:
    """process-video deployed as DEPLOYMENT on a pool no worker serves (runs the gateway starts
    stay scheduled) on the Prefect server the settings name; returns DEPLOYMENT."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    from vidp.flows.process_video import process_video

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name="gateway-test-pool", type="process"))
        except ObjectAlreadyExists:
            pass
    process_video.to_deployment(
        name="gateway-test",
        work_pool_name="gateway-test-pool",
        enforce_parameter_schema=True,
        job_variables={"working_dir": str(REPO)},  # where a process worker finds the code
    ).apply()
    return DEPLOYMENT


def signed(body: bytes, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    """Headers a sender holding `secret` attaches, signing at `at` (default now)."""
    from vidp.gateway.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

    timestamp = int(time.time() if at is None else at)
    return {
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        TIMESTAMP_HEADER: str(timestamp),
        "Content-Type": "application/json",
    }


def notification(
    key: str, etag: str, event: str = "ObjectCreated:Put", minio: bool = False
) -> bytes:
    """An S3 event notification for an object of the `uploads` bucket as AWS sends it (MinIO's has
    `s3:` event names and more fields)."""
    record = {
        "eventVersion": "2.1" if not minio else "2.0",
        "eventSource": "aws:s3" if not minio else "minio:s3",
        "eventName": f"s3:{event}" if minio else event,
        "s3": {
            "bucket": {"name": "uploads", "arn": "arn:aws:s3:::uploads"},
            "object": {"key": key, "size": 1234, "eTag": etag, "sequencer": "0055AED6DCD90281E5"},
        },
    }
    body: dict[str, object] = {"Records": [record]}
    if minio:
        body = {"EventName": record["eventName"], "Key": f"uploads/{key}", **body}
    return json.dumps(body).encode()


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers, timeout=30)


def stream_oversized_upload(url: str, api_key: str) -> httpx.Response:
    """POST /videos a multipart body sent in chunks without a Content-Length, an MP4 head and then
    more than MAX_UPLOAD bytes: the gateway can only find out while it streams."""

    def chunks() -> Iterator[bytes]:
        yield b'--vidp\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        yield b"Content-Type: video/mp4\r\n\r\n\x00\x00\x00\x18ftypmp42"
        for _ in range(MAX_UPLOAD // (1 << 20) + 2):  # past one 8 MiB S3 part
            yield os.urandom(1 << 20)
        yield b"\r\n--vidp--\r\n"

    return httpx.post(
        f"{url}/videos",
        content=chunks(),
        headers={"X-API-Key": api_key, "Content-Type": "multipart/form-data; boundary=vidp"},
        timeout=60,
    )
