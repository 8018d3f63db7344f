"""Fixtures of the flow tests alone."""

from __future__ import annotations

import pytest
from helpers.processes import vidp


@pytest.fixture(scope="session")
def shared_storage(prefect_server: str, s3) -> dict[str, str]:
    """The environment of workers that share caches: Prefect's results and vidp's work files in
    one bucket, through the blocks `vidp blocks` saves."""
    s3.create_bucket(Bucket="vidp-shared")
    done = vidp("blocks", env={"VIDP_BLOCK_NAME": "shared", "VIDP_RESULTS_BUCKET": "vidp-shared"})
    assert done.returncode == 0, done.stderr
    return {
        "PREFECT_DEFAULT_RESULT_STORAGE_BLOCK": "s3-bucket/shared-results",
        "VIDP_WORK_STORE": "s3://vidp-shared/work",
    }
