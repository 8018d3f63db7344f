"""Several videos in one process: two side by side, their heavy steps taking turns."""

from __future__ import annotations

import threading
import time
from contextvars import ContextVar

import pytest

from vidp.side_by_side import SIDE_BY_SIDE, heavy_step, side_by_side

_caller: ContextVar[str] = ContextVar("caller", default="not set")


class _Meter:
    """How many threads are inside a section at once, at most."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = self.most = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self.now -= 1


def test_results_come_in_the_order_given_two_running_at_a_time() -> None:
    running = _Meter()

    def run(item: int) -> int:
        with running:
            time.sleep(0.05 * (5 - item))  # the first ones end last
        return item * 10

    assert list(side_by_side(run, list(range(5)))) == [0, 10, 20, 30, 40]
    assert running.most == SIDE_BY_SIDE == 2


def test_heavy_steps_take_turns_while_videos_run_side_by_side() -> None:
    heavy, light = _Meter(), _Meter()

    def run(_: int) -> None:
        with light:
            time.sleep(0.3)
        for _ in range(3):
            with heavy_step(), heavy:
                time.sleep(0.02)

    list(side_by_side(run, list(range(4))))
    assert heavy.most == 1
    assert light.most == 2


def test_a_video_alone_runs_its_heavy_steps_at_once() -> None:
    """Alone, a video's Whisper and its encode overlap, as they always did."""
    both_inside = threading.Barrier(2, timeout=5)

    def step() -> None:
        with heavy_step():
            both_inside.wait()

    def run(_: int) -> str:
        beside = threading.Thread(target=step)
        beside.start()
        step()
        beside.join()
        return "both at once"

    assert list(side_by_side(run, [1])) == ["both at once"]


def test_each_run_sees_the_callers_context() -> None:
    """Prefect's settings (the API's address) and run context are context variables."""
    _caller.set("the CLI")
    assert list(side_by_side(lambda _: _caller.get(), [1, 2, 3])) == ["the CLI"] * 3


def test_stopping_early_drops_the_videos_not_started() -> None:
    started: list[int] = []

    def run(item: int) -> int:
        started.append(item)
        time.sleep({0: 0.1, 1: 1.0}.get(item, 0.5))
        return item

    results = side_by_side(run, list(range(6)))
    assert next(results) == 0  # 1 is under way, and 2 may have started
    results.close()  # as a KeyboardInterrupt in the caller would
    time.sleep(1.5)
    assert {0, 1} <= set(started) <= {0, 1, 2}, started


def test_an_error_in_one_reaches_the_caller() -> None:
    def run(item: int) -> int:
        if item == 1:
            raise ValueError("broken")
        return item

    with pytest.raises(ValueError, match="broken"):
        list(side_by_side(run, [0, 1, 2]))
