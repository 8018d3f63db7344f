"""Several videos in one process, two side by side: one video's light steps (its flow run's
start, ingest, probe, detections, checks, publishing) overlap the other's heavy ones, while the
heavy steps, Whisper and the encodes, take turns.

On two cores, one video after another left a core idle in each video's serial steps; two whole
videos at once (two Whispers, two encodes) only shared the cores, +27 % CPU; two side by side
taking turns for the heavy steps: 1.5-10.5 % less wall time than one after another on six
short clips, three pairs alternating (bench/RESULTS.md, issue 23).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from contextvars import copy_context
from typing import TypeVar

__all__ = ["SIDE_BY_SIDE", "heavy_step", "side_by_side"]

SIDE_BY_SIDE = 2

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")

_turn = threading.Lock()
_taking_turns = threading.Event()


def heavy_step() -> AbstractContextManager[object]:
    """Wait for this process's turn for a heavy step (Whisper, an encode) while videos run side
    by side here; a video alone runs its Whisper and its encode at once, as always."""
    return _turn if _taking_turns.is_set() else nullcontext()


def side_by_side(run: Callable[[_Item], _Result], items: Sequence[_Item]) -> Iterator[_Result]:
    """`run` every item, SIDE_BY_SIDE at a time, each in a thread with a copy of the caller's
    context (Prefect's settings and run context live in it); yield the results in the order
    given. When the caller stops early (an error, Ctrl-C), items not started are dropped and
    nothing waits for the ones running."""
    if len(items) == 1:
        yield run(items[0])
        return
    videos = ThreadPoolExecutor(max_workers=SIDE_BY_SIDE, thread_name_prefix="vidp-video")
    _taking_turns.set()
    finished = False
    try:
        futures = [videos.submit(copy_context().run, run, item) for item in items]
        for future in futures:
            yield future.result()
        finished = True
    finally:
        videos.shutdown(wait=finished, cancel_futures=True)
        _taking_turns.clear()
