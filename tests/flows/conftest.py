"""Fixtures of the flow tests alone."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.processes import process_worker, vidp
from helpers.repo import REPO


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


@pytest.fixture
def gpu_worker(
    prefect_server: str, shared_storage: dict[str, str], tmp_path: Path
) -> Iterator[Path]:
    """analyze-gpu deployed on its own pool, served by a real process worker (the "GPU" machine):
    its own work folder (yielded), its results in the shared S3 result storage."""
    env = {
        **os.environ,
        **shared_storage,
        "VIDP_WORK_DIR": str(tmp_path / "gpu-machine"),
        "VIDP_CPU_POOL": "offload-cpu",
        "VIDP_GPU_POOL": "offload-gpu",
    }
    for args in (
        ["prefect", "work-pool", "create", "offload-gpu", "--type", "process", "--overwrite"],
        ["vidp.cli", "deploy", "--name", "analyze-gpu/default"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
    with process_worker("offload-gpu", tmp_path / "gpu-worker.log", env):
        yield Path(env["VIDP_WORK_DIR"])
