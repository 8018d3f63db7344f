"""Waiting on futures in a flow: a task's value whether it was submitted or already known, the
reason a task never ran, and whether a task is doing real work or was served from the cache."""

from __future__ import annotations

from typing import Any, TypeVar

from prefect.exceptions import UnfinishedRun
from prefect.futures import PrefectFuture

__all__ = ["result_or_cause", "still_working", "value"]

T = TypeVar("T")


def still_working(future: PrefectFuture[Any], within_s: float = 1.0) -> bool:
    """Whether `future` is still unfinished after `within_s`: a task served from the cache is
    done by then, real work is not (so loading models for it is not wasted on a re-run)."""
    future.wait(timeout=within_s)
    return not future.state.is_final()


def value(item: PrefectFuture[T] | T) -> T:
    """A future's result, or the value itself."""
    return item.result() if isinstance(item, PrefectFuture) else item


def result_or_cause(future: PrefectFuture[T], *inputs: PrefectFuture[Any] | object) -> T:
    """`future`'s result; when it never ran because one of `inputs` failed, that input's own
    error (a missing Whisper model, say), not Prefect's "Run is in PENDING state". `inputs` in
    the order they run: the first that failed is the cause."""
    try:
        return future.result()
    except UnfinishedRun:
        for item in inputs:
            value(item)
        raise
