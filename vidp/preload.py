"""Load what the end of a run needs (the detector, with torch and Ultralytics, and the
great-expectations context, here or in a process of its own) in the background while the run's
first steps work, so that seconds of imports never sit on its critical path."""

from __future__ import annotations

import logging
import threading

__all__ = ["preload"]

logger = logging.getLogger(__name__)
_started: set[tuple[str, bool]] = set()
_lock = threading.Lock()


def _load(detector_weights: str, prepare_gate: bool) -> None:
    from vidp.detect import load_detector
    from vidp.quality import prepare

    try:
        load_detector(detector_weights)
        if prepare_gate:
            prepare()
    except Exception:  # the step that needs it loads it again and reports the error there
        logger.debug("preloading failed", exc_info=True)


def preload(detector_weights: str, quality_gate: bool = True, gate_process: bool = False) -> None:
    """Start loading the detector in a daemon thread, once per process and weights, and the
    quality gate's context after it, or in a process of its own (`gate_process`:
    `vidp.quality.start_checker`)."""
    if quality_gate and gate_process:
        from vidp.quality import start_checker

        start_checker()
    key = (detector_weights, quality_gate and not gate_process)
    with _lock:
        if key in _started:
            return
        _started.add(key)
    threading.Thread(target=_load, args=key, name="vidp-preload", daemon=True).start()
