"""Waiting on futures in a flow: a task's value whether it was submitted or already known, and
whether a task is doing real work or was served from the cache."""

from __future__ import annotations

from typing import Any, TypeVar

from prefect.futures import PrefectFuture

__all__ = ["still_working", "value"]

T = TypeVar("T")


def still_working(future: PrefectFuture[Any], within_s: float = 1.0) -> bool:
    """Whether `future` is still unfinished after `within_s`: a task served from the cache is
    done by then, real work is not (so loading models for it is not wasted on a re-run)."""
    future.wait(timeout=within_s)
    return not future.state.is_final()


def value(item: PrefectFuture[T] | T) -> T:
    """A future's result, or the value itself."""
    return item.result() if isinstance(item, PrefectFuture) else item
