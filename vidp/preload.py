"""Load what the end of a run needs (the detector, with torch and Ultralytics, and the
great-expectations context) in the background while the run's first steps work, so that seconds
of imports never sit on its critical path."""

from __future__ import annotations

import logging
import threading

__all__ = ["preload"]

logger = logging.getLogger(__name__)
_started: set[tuple[str, bool]] = set()
_lock = threading.Lock()


def _load(detector_weights: str, quality_gate: bool) -> None:
    from vidp.detect import load_detector
    from vidp.quality import prepare

    try:
        load_detector(detector_weights)
        if quality_gate:
            prepare()
    except Exception:  # the step that needs it loads it again and reports the error there
        logger.debug("preloading failed", exc_info=True)


def preload(detector_weights: str, quality_gate: bool = True) -> None:
    """Start loading in a daemon thread, once per process and weights."""
    with _lock:
        if (detector_weights, quality_gate) in _started:
            return
        _started.add((detector_weights, quality_gate))
    threading.Thread(
        target=_load, args=(detector_weights, quality_gate), name="vidp-preload", daemon=True
    ).start()
