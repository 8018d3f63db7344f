"""`vidp blocks` saves the named blocks from the environment, idempotently, secrets kept secret."""

from __future__ import annotations

import pytest
from helpers.processes import vidp
from prefect.blocks.core import Block

pytestmark = pytest.mark.integration


def test_blocks_from_the_environment(prefect_server: str, s3, s3_server: str) -> None:
    s3.create_bucket(Bucket="prefect-results")
    env = {
        "AWS_SECRET_ACCESS_KEY": "s3cr3t-value",
        "VIDP_BLOCK_NAME": "vidp-ci",
        "VIDP_RESULTS_BUCKET": "prefect-results",
    }
    for _ in range(2):  # idempotent
        done = vidp("blocks", env=env)
        assert done.returncode == 0, done.stderr
        assert "s3cr3t-value" not in done.stdout + done.stderr
    assert done.stdout.split() == [
        "saved",
        "block",
        "minio-credentials/vidp-ci",
        "saved",
        "block",
        "s3-bucket/vidp-ci-results",
    ]
    credentials = Block.load("minio-credentials/vidp-ci")
    assert credentials.minio_root_password.get_secret_value() == "s3cr3t-value"
    assert credentials.aws_client_parameters.endpoint_url == s3_server
    results = Block.load("s3-bucket/vidp-ci-results")  # usable as Prefect result storage
    results.write_path("probe/key", b"cached result")
    assert results.read_path("probe/key") == b"cached result"
