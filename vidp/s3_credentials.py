"""The S3 client, from a Prefect credentials block or the AWS SDK's own chain.

The domain library's one import of Prefect (prefect-aws's credential blocks): credentials follow
the SDK's chain (environment, profile, instance role, and `AWS_ENDPOINT_URL` /
`AWS_ENDPOINT_URL_S3` for S3-compatible servers) unless `VIDP_S3_CREDENTIALS_BLOCK` names a block
(`aws-credentials/<name>` or `minio-credentials/<name>`), which then wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from vidp.settings import get_settings

if TYPE_CHECKING:
    from prefect_aws import AwsCredentials, MinIOCredentials

__all__ = ["client_config", "credentials", "s3_client"]


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


def s3_client() -> Any:
    """A boto3 S3 client (prefect-aws caches one per set of credentials)."""
    return credentials().get_s3_client()


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
