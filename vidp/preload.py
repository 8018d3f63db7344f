"""Load what the end of a run needs (the detector, with torch and Ultralytics, and the
great-expectations context, here or in a process of its own) in the background while the run's
first steps work, so that seconds of imports never sit on its critical path."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from vidp.ingest import worked_on_here
from vidp.probe import duration_of
from vidp.settings import get_settings
from vidp.storage import LocalStore, UnsupportedStorage

__all__ = ["LOAD_AT_ONCE_S", "all_to_do", "load_early", "preload"]

# Videos up to this long load the detector early (before the run while `vidp process` waits for
# Prefect's temporary API, or as the run starts), and check their outputs in a process of their
# own (its imports then off the run's critical path); a longer one loads both while its encode
# works, in the run's process (a second process added 330 MB at 4 min).
LOAD_AT_ONCE_S = 60.0

logger = logging.getLogger(__name__)
_started: set[tuple[str | None, bool]] = set()
_lock = threading.Lock()


def all_to_do(first_here: bool, refresh: bool) -> bool:
    """Whether no step of a run can be served from the cache: it is refreshed (`refresh`:
    PREFECT_TASKS_REFRESH_CACHE, `--refresh-cache`), or this machine never worked on the video
    and keeps its work files itself (the steps' cache keys name its work folder, new)."""
    return refresh or (first_here and not get_settings().work_store)


def load_early(source: str, refresh: bool) -> bool:
    """Whether a run of `source` loads its models before the run needs them: a local video of at
    most LOAD_AT_ONCE_S, analysed here (no GPU deployment), where every step will work for real
    (`all_to_do`). Loads for a run served from the cache would be paid for nothing."""
    if get_settings().gpu_deployment or ("://" in source and not source.startswith("file://")):
        return False
    try:
        path = LocalStore.path(source)
        duration_s = duration_of(path)
        if duration_s is None or duration_s > LOAD_AT_ONCE_S:
            return False
        return all_to_do(first_here=not worked_on_here(path), refresh=refresh)
    except (UnsupportedStorage, OSError):  # the run says why
        return False


def _quietly(load: Callable[[], object]) -> None:
    try:
        load()
    except Exception:  # the step that needs it loads it again and reports the error there
        logger.debug("preloading failed", exc_info=True)


def _detector(weights: str, warm: bool) -> None:
    from vidp.detect import load_detector

    detector = load_detector(weights)
    # CUDA's first inference (its context and kernels: about 6 s on an H200) is always paid
    # here; the CPU's only when asked (`warm`: not while a long video's encode is at its peak).
    if warm or detector.device != "cpu":
        detector.warm_up()


def _load(
    detector_weights: str | None, prepare_gate: bool, whisper_model: str | None, warm: bool
) -> None:
    from vidp.quality import prepare
    from vidp.whisper_model import load_whisper

    if whisper_model:
        _quietly(lambda: load_whisper(whisper_model))
    if detector_weights:
        _quietly(lambda: _detector(detector_weights, warm))
    if prepare_gate:
        _quietly(prepare)


def preload(
    detector_weights: str | None,
    quality_gate: bool = True,
    gate_process: bool = False,
    whisper_model: str | None = None,
    warm: bool = True,
) -> None:
    """Start loading the detector (none: `detector_weights` None) in a daemon thread, once per
    process and weights (Whisper's `whisper_model` first, if given), and the quality gate's
    context after it, or in a process of its own (`gate_process`: `vidp.quality.start_checker`).
    `warm`: run the detector's first inference too (its predictor's set-up: without it, the
    first batch of frames pays it)."""
    if quality_gate and gate_process:
        from vidp.quality import start_checker

        start_checker()
    key = (detector_weights, quality_gate and not gate_process)
    with _lock:
        if key in _started:
            return
        _started.add(key)
    threading.Thread(
        target=_load, args=(*key, whisper_model, warm), name="vidp-preload", daemon=True
    ).start()
