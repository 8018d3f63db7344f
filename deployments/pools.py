"""Create or update vidp's work pools from the templates in `work-pools/`, and the GPU limit.

    vidp pools --type kubernetes     # or docker, or process

Two pools: `VIDP_CPU_POOL` (default `vidp-cpu`) for the pipeline, and `VIDP_GPU_POOL` (default
`vidp-gpu`) for model work, whose jobs ask for a GPU (Kubernetes: an `nvidia.com/gpu` limit;
Docker: a device request). Each pool gets a global concurrency limit `models-<pool>` that its
model tasks hold a slot of while they run (the pool's job env sets `VIDP_MODEL_LIMIT`):
`VIDP_GPU_SLOTS` (default 1) on the GPU pool, `VIDP_CPU_MODEL_SLOTS` (default 2) on the CPU pool.
The settings every flow run needs alike (`WORKER_ENV`) go into the pools' job env when set, with
glibc's `MALLOC_ARENA_MAX` (vidp/memory.py).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
from prefect.exceptions import ObjectNotFound

from vidp.memory import MALLOC_ARENAS

__all__ = ["WORKER_ENV", "PoolType", "ensure_pools", "model_limit", "pool_template"]

PoolType = Literal["process", "docker", "kubernetes"]
_TEMPLATES = Path(__file__).with_name("work-pools")
_DOCKER_GPU = [{"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}]
# Copied from `vidp pools`' environment into every job, so shared caches and S3 credentials are
# configured once, not per pod.
WORKER_ENV = (
    "PREFECT_DEFAULT_RESULT_STORAGE_BLOCK",
    "VIDP_WORK_STORE",
    "VIDP_S3_CREDENTIALS_BLOCK",
    "VIDP_GPU_DEPLOYMENT",
    "PREFECT_FLOWS_HEARTBEAT_FREQUENCY",  # the crash detection of `vidp deploy` expects it
)


def model_limit(pool: str) -> str:
    """The global concurrency limit that bounds model work on `pool`."""
    return f"models-{pool}"


def pool_template(
    pool_type: PoolType, gpu: bool, limit: str, env: Mapping[str, str]
) -> dict[str, Any]:
    """The base job template for a pool: ours for Docker and Kubernetes, Prefect's for process
    pools; its jobs hold slots of `limit` for model work and get the `WORKER_ENV` set in `env`."""
    if pool_type == "process":
        from prefect.workers.process import ProcessWorker

        template = ProcessWorker.get_default_base_job_template()
    else:
        template = json.loads((_TEMPLATES / f"{pool_type}.json").read_text())
    variables = template["variables"]["properties"]
    variables["env"]["default"] = {
        "VIDP_MODEL_LIMIT": limit,
        "MALLOC_ARENA_MAX": str(MALLOC_ARENAS),  # read by glibc at the job's start
        **{name: env[name] for name in WORKER_ENV if env.get(name)},
    }
    if gpu and pool_type == "kubernetes":
        variables["gpu_count"]["default"] = 1
        variables["image"]["default"] = "vidp:cuda"
    if gpu and pool_type == "docker":
        variables["container_create_kwargs"]["default"] = {
            "device_requests": copy.deepcopy(_DOCKER_GPU)
        }
        variables["image"]["default"] = "vidp:cuda"
    return template


def ensure_pools(pool_type: PoolType, env: dict[str, str] | None = None) -> list[str]:
    """Create the CPU and GPU pools, or update their templates, and their model limits."""
    env = dict(os.environ if env is None else env)
    pools = {  # name -> (GPU pool?, model slots)
        env.get("VIDP_CPU_POOL", "vidp-cpu"): (False, int(env.get("VIDP_CPU_MODEL_SLOTS", "2"))),
        env.get("VIDP_GPU_POOL", "vidp-gpu"): (True, int(env.get("VIDP_GPU_SLOTS", "1"))),
    }
    with get_client(sync_client=True) as client:
        for name, (gpu, slots) in pools.items():
            template = pool_template(pool_type, gpu, model_limit(name), env)
            try:
                existing = client.read_work_pool(name)
            except ObjectNotFound:
                client.create_work_pool(
                    WorkPoolCreate(name=name, type=pool_type, base_job_template=template)
                )
            else:
                if existing.type != pool_type:
                    raise ValueError(
                        f"work pool {name!r} exists with type {existing.type!r}, not {pool_type!r}"
                    )
                client.update_work_pool(name, WorkPoolUpdate(base_job_template=template))
            client.upsert_global_concurrency_limit_by_name(model_limit(name), slots)
    return list(pools)
