"""Load what the end of a run needs (the detector, with torch and Ultralytics, and the
great-expectations context, here or in a process of its own) in the background while the run's
first steps work, so that seconds of imports never sit on its critical path."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["preload"]

logger = logging.getLogger(__name__)
_started: set[tuple[str, bool]] = set()
_lock = threading.Lock()


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


def _load(detector_weights: str, prepare_gate: bool, whisper_model: str | None, warm: bool) -> None:
    from vidp.quality import prepare
    from vidp.whisper_model import load_whisper

    if whisper_model:
        _quietly(lambda: load_whisper(whisper_model))
    _quietly(lambda: _detector(detector_weights, warm))
    if prepare_gate:
        _quietly(prepare)


def preload(
    detector_weights: str,
    quality_gate: bool = True,
    gate_process: bool = False,
    whisper_model: str | None = None,
    warm: bool = True,
) -> None:
    """Start loading the detector in a daemon thread, once per process and weights (Whisper's
    `whisper_model` first, if given), and the quality gate's context after it, or in a process
    of its own (`gate_process`: `vidp.quality.start_checker`). `warm`: run the detector's first
    inference too (its predictor's set-up: without it, the first batch of frames pays it)."""
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
