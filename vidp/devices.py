"""Where models run: CUDA when a GPU is visible, else the CPU."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

__all__ = ["cuda_available", "resolve_device"]


@lru_cache
def cuda_available() -> bool:
    import ctranslate2

    return ctranslate2.get_cuda_device_count() > 0


def resolve_device(device: Literal["auto", "cpu", "cuda"]) -> Literal["cpu", "cuda"]:
    """`auto` becomes `cuda` where a GPU is visible, else `cpu`."""
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    return device
