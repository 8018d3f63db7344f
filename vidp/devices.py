"""What this machine offers: CUDA when a GPU is visible, and the cores this process may use."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

__all__ = ["cuda_available", "resolve_device", "usable_cores"]


@lru_cache
def cuda_available() -> bool:
    import ctranslate2

    return ctranslate2.get_cuda_device_count() > 0


def resolve_device(device: Literal["auto", "cpu", "cuda"]) -> Literal["cpu", "cuda"]:
    """`auto` becomes `cuda` where a GPU is visible, else `cpu`."""
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    return device


def usable_cores() -> int:
    """Cores this process may use: its CPU affinity, within a container's CPU quota (cgroup v2),
    which `os.cpu_count()` does not see on a Kubernetes node."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
    except (OSError, ValueError):
        return cores
    return cores if quota == "max" else max(1, min(cores, int(quota) // int(period)))
