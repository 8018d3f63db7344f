"""A real S3-compatible server for the tests (moto's server mode) and objects put in it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.processes import free_port, wait_until_up

__all__ = ["BUCKETS", "moto_server", "put_upload"]

BUCKETS = ("uploads", "results")  # what users upload to, where results are published


@contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """moto's server on a free loopback port while the block runs, reached through the AWS SDK's
    own settings (AWS_ENDPOINT_URL...), as a user would configure it; yields its endpoint URL."""
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("moto_server")),
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, endpoint, log, timeout_s=60)
        os.environ.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ENDPOINT_URL=endpoint,
        )
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def put_upload(s3, key: str, data: bytes = b"not really a video") -> str:
    """Put an object in the `uploads` bucket, as a user uploads one; return its ETag."""
    return s3.put_object(Bucket="uploads", Key=key, Body=data)["ETag"].strip('"')
