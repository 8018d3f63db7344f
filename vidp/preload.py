"""Load what the end of a run needs (the detector, with torch and Ultralytics, and the
great-expectations context, in a process of its own) in the background while the run's first
steps work, so that seconds of imports never sit on its critical path."""

from __future__ import annotations

import logging
import threading

__all__ = ["preload"]

logger = logging.getLogger(__name__)
_started: set[str] = set()
_lock = threading.Lock()


def _load(detector_weights: str) -> None:
    from vidp.detect import load_detector

    try:
        load_detector(detector_weights)
    except Exception:  # the step that needs it loads it again and reports the error there
        logger.debug("preloading failed", exc_info=True)


def preload(detector_weights: str, quality_gate: bool = True) -> None:
    """Start loading the detector in a daemon thread, once per process and weights, and the
    quality gate in its process (`vidp.quality.start_checker`)."""
    if quality_gate:
        from vidp.quality import start_checker

        start_checker()
    with _lock:
        if detector_weights in _started:
            return
        _started.add(detector_weights)
    threading.Thread(
        target=_load, args=(detector_weights,), name="vidp-preload", daemon=True
    ).start()
