"""Several videos in one process: two side by side, sharing the cores."""

from __future__ import annotations

import os
import threading
import time
from contextvars import ContextVar

import pytest

from vidp.side_by_side import SIDE_BY_SIDE, share_cores, side_by_side

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


@pytest.mark.parametrize(
    ("videos", "set_by_user", "expected"),
    [(2, None, "PASSIVE"), (1, None, None), (20, "ACTIVE", "ACTIVE")],
)
def test_openmp_threads_wait_passively_only_where_videos_share_the_cores(
    monkeypatch: pytest.MonkeyPatch, videos: int, set_by_user: str | None, expected: str | None
) -> None:
    """Spinning threads would take the core the other video's encode needs; a video alone keeps
    OpenMP's default, and a policy the user chose wins."""
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    if set_by_user is not None:
        monkeypatch.setenv("OMP_WAIT_POLICY", set_by_user)
    share_cores(videos)
    assert os.environ.get("OMP_WAIT_POLICY") == expected


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
