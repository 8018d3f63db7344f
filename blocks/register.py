"""Create or update vidp's named blocks from environment variables (idempotent).

    vidp blocks            # or: python -m vidp.blocks.register

| block                                   | from                                                      |
|-----------------------------------------|-----------------------------------------------------------|
| `aws-credentials/<name>` or             | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,             |
| `minio-credentials/<name>` (an endpoint | `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_S3` or            |
| is set: an S3-compatible server)        | `AWS_ENDPOINT_URL`                                        |
| `s3-bucket/<name>-results`              | `VIDP_RESULTS_BUCKET` (Prefect task results, for caching  |
|                                         | across machines: PREFECT_DEFAULT_RESULT_STORAGE_BLOCK)    |

`<name>` is `VIDP_BLOCK_NAME` (default `vidp`). Secrets are stored as SecretStr and never printed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from prefect_aws import AwsClientParameters, AwsCredentials, MinIOCredentials, S3Bucket
from pydantic import SecretStr

from vidp.s3_credentials import client_config
from vidp.settings import get_settings

__all__ = ["register_blocks"]


def _credentials(env: Mapping[str, str]) -> AwsCredentials | MinIOCredentials:
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    region = env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION")
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    # The retries and timeouts vidp's own clients use, kept in the block for every worker.
    params = AwsClientParameters(
        endpoint_url=endpoint or None, config=client_config(get_settings().s3_timeout_s, env)
    )
    if endpoint:
        if not (key and secret):
            raise ValueError(
                "an S3-compatible endpoint needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        return MinIOCredentials(
            minio_root_user=key,
            minio_root_password=SecretStr(secret),
            region_name=region,
            aws_client_parameters=params,
        )
    return AwsCredentials(
        aws_access_key_id=key,
        aws_secret_access_key=SecretStr(secret) if secret else None,
        region_name=region,
        aws_client_parameters=params,
    )


def register_blocks(env: Mapping[str, str] | None = None) -> list[str]:
    """Save the credentials block (and the results bucket block when configured); return their
    slugs. Saving again overwrites, so running it twice changes nothing."""
    env = os.environ if env is None else env
    name = env.get("VIDP_BLOCK_NAME", "vidp")
    credentials = _credentials(env)
    credentials.save(name, overwrite=True)
    saved = [f"{credentials.get_block_type_slug()}/{name}"]
    if env.get("VIDP_RESULTS_BUCKET"):
        S3Bucket(bucket_name=env["VIDP_RESULTS_BUCKET"], credentials=credentials).save(
            f"{name}-results", overwrite=True
        )
        saved.append(f"s3-bucket/{name}-results")
    return saved


if __name__ == "__main__":
    for slug in register_blocks():
        print(slug)
