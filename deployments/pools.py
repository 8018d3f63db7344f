"""Create or update vidp's work pools from the templates in `work-pools/`, and the GPU limit.

    vidp pools --type kubernetes     # or docker, or process

Two pools: `VIDP_CPU_POOL` (default `vidp-cpu`) for the pipeline, and `VIDP_GPU_POOL` (default
`vidp-gpu`) for model work, whose jobs ask for a GPU (Kubernetes: an `nvidia.com/gpu` limit;
Docker: a device request). The tag concurrency limit `gpu` (`VIDP_GPU_SLOTS`, default 1) bounds
how many model tasks run at once across all runs.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Literal

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
from prefect.exceptions import ObjectNotFound

from tasks.policies import MODEL_TAG

__all__ = ["PoolType", "pool_template", "ensure_pools"]

PoolType = Literal["process", "docker", "kubernetes"]
_TEMPLATES = Path(__file__).with_name("work-pools")
_DOCKER_GPU = [{"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}]


def pool_template(pool_type: PoolType, gpu: bool) -> dict[str, Any] | None:
    """The base job template for a pool (None: Prefect's own, for process pools)."""
    if pool_type == "process":
        return None
    template = json.loads((_TEMPLATES / f"{pool_type}.json").read_text())
    variables = template["variables"]["properties"]
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
    """Create the CPU and GPU pools, or update their templates; set the `gpu` tag limit."""
    env = dict(os.environ if env is None else env)
    pools = {
        env.get("VIDP_CPU_POOL", "vidp-cpu"): False,
        env.get("VIDP_GPU_POOL", "vidp-gpu"): True,
    }
    with get_client(sync_client=True) as client:
        for name, gpu in pools.items():
            template = pool_template(pool_type, gpu)
            try:
                existing = client.read_work_pool(name)
            except ObjectNotFound:
                create = WorkPoolCreate(name=name, type=pool_type)
                if template is not None:
                    create.base_job_template = template
                client.create_work_pool(create)
                continue
            if existing.type != pool_type:
                raise ValueError(
                    f"work pool {name!r} exists with type {existing.type!r}, not {pool_type!r}"
                )
            if template is not None:
                client.update_work_pool(name, WorkPoolUpdate(base_job_template=template))
        client.create_concurrency_limit(
            tag=MODEL_TAG, concurrency_limit=int(env.get("VIDP_GPU_SLOTS", "1"))
        )
    return list(pools)
