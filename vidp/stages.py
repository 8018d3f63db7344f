"""Wall time per stage of a run whose tasks overlap."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

__all__ = ["StageClock"]


class StageClock:
    """A stage runs from when it could start (submitted, and the stages it waits on done) to
    when its last task finished."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self._spans: dict[str, list[float]] = defaultdict(lambda: [float("inf"), 0.0])
        self._after: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def track(self, stage: str, *futures: Any, after: tuple[str, ...] = ()) -> None:
        """Count `futures` (Prefect futures, submitted just now) towards `stage`, which waits
        for the stages named in `after`."""
        now = time.monotonic()
        with self._lock:
            self._spans[stage][0] = min(self._spans[stage][0], now)
            self._after[stage] = self._after.get(stage, ()) + after
        for future in futures:
            future.add_done_callback(lambda _f, s=stage: self._done(s))

    def _done(self, stage: str) -> None:
        with self._lock:
            self._spans[stage][1] = max(self._spans[stage][1], time.monotonic())

    def _began(self, stage: str) -> float:
        start = self._spans[stage][0]
        return max(
            [start, *(self._spans[d][1] for d in self._after.get(stage, ()) if d in self._spans)]
        )

    def timings(self) -> dict[str, float]:
        """Seconds per finished stage, and `total` since the clock started."""
        with self._lock:
            out = {s: max(0.0, end - self._began(s)) for s, (_, end) in self._spans.items() if end}
        out["total"] = time.monotonic() - self._start
        return out
