"""Several videos in one process, two side by side: while one video's steps leave a core idle (its
flow run's start, ingest, probe, detections, checks, publishing), the other's fill it.

Two videos side by side share the cores with all their steps at once, Whisper and the encodes
included, once the model runtimes' threads wait passively (`share_cores`). OpenMP's threads
(CTranslate2's for Whisper, torch's for the detector) otherwise spin on a core for a while
after each parallel step, and beside another video's encode that spinning took the core the
encode needed: Whisper beside an encode took 5-9 s instead of 1.2 s. With passive waiting,
20 short clips took 141-146 s against 145-150 s with the heavy steps taking turns, and 11 CPU s
less (bench/RESULTS.md, issue 23). A video alone keeps OpenMP's default: its Whisper is on its
critical path (the encode burns its subtitles), and spinning keeps it quicker there (a 60 s
clip 1.0-1.5 s quicker).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from typing import TypeVar

__all__ = ["SIDE_BY_SIDE", "share_cores", "side_by_side"]

SIDE_BY_SIDE = 2

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


def share_cores(videos: int) -> None:
    """Before `videos` videos run in this process: when several will run side by side, make
    OpenMP's threads wait passively (OMP_WAIT_POLICY=PASSIVE, unless the user set it). Call it
    before the models load: each OpenMP runtime reads the variable once, as it loads."""
    if videos > 1:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def side_by_side(run: Callable[[_Item], _Result], items: Sequence[_Item]) -> Iterator[_Result]:
    """`run` every item, SIDE_BY_SIDE at a time, each in a thread with a copy of the caller's
    context (Prefect's settings and run context live in it); yield the results in the order
    given. When the caller stops early (an error, Ctrl-C), items not started are dropped and
    nothing waits for the ones running."""
    if len(items) == 1:
        yield run(items[0])
        return
    videos = ThreadPoolExecutor(max_workers=SIDE_BY_SIDE, thread_name_prefix="vidp-video")
    finished = False
    try:
        futures = [videos.submit(copy_context().run, run, item) for item in items]
        for future in futures:
            yield future.result()
        finished = True
    finally:
        videos.shutdown(wait=finished, cancel_futures=True)
