"""The pipeline's check on its own outputs, with great-expectations on pandas frames."""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from multiprocessing import get_context
from multiprocessing.pool import Pool
from typing import TYPE_CHECKING, Any

from vidp.detect import Detection
from vidp.subtitles import Cue

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.expectations import Expectation

__all__ = [
    "QualityGateFailed",
    "check_outputs",
    "prepare",
    "start_checker",
    "detections_frame",
    "cues_frame",
    "untranscribed_warning",
]

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no telemetry calls from a pipeline
logging.getLogger("great_expectations").setLevel(logging.WARNING)  # not its temporary folders


class QualityGateFailed(RuntimeError):
    """An output broke an expectation; the message names each one."""


def detections_frame(detections: list[Detection]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        [{"label": d.label, "time_s": d.time_s, "confidence": d.confidence} for d in detections],
        columns=["label", "time_s", "confidence"],
    )


def cues_frame(cues: list[Cue]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame([{"start": c.start, "end": c.end} for c in cues], columns=["start", "end"])
    frame["prev_end"] = frame["end"].shift(1, fill_value=0.0)
    return frame


def _suites(duration_s: float) -> dict[str, list[Expectation]]:
    import great_expectations.expectations as gxe

    detections: list[Expectation] = [
        gxe.ExpectColumnValuesToBeBetween(column="time_s", min_value=0, max_value=duration_s),
        gxe.ExpectColumnValuesToBeBetween(column="confidence", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="label"),
    ]
    cues: list[Expectation] = [
        gxe.ExpectColumnValuesToBeBetween(column="start", min_value=0, max_value=duration_s),
        gxe.ExpectColumnValuesToBeBetween(column="end", min_value=0, max_value=duration_s),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="end", column_B="start"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="start", column_B="prev_end", or_equal=True
        ),
        gxe.ExpectColumnValuesToBeIncreasing(column="start", strictly=True),
    ]
    return {"detections": detections, "cues": cues}


@lru_cache(maxsize=1)
def _batches() -> dict[str, Any]:
    """One great-expectations context per process, with a whole-dataframe batch definition for
    each kind of output: building them costs seconds, validating a few rows does not."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("vidp")
    return {
        name: source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        for name in ("detections", "cues")
    }


_lock = threading.Lock()  # one validation at a time in the shared context
_checker: Pool | None = None
# A check in the checker's process that takes longer than this is abandoned and made here (its
# process was killed, and the pool that replaced it never answers).
_CHECKER_WAIT_S = 120.0


def prepare() -> None:
    """Build the context now, ahead of the first check."""
    with _lock:
        _batches()


def start_checker() -> None:
    """Check in a process of its own from now on, started at once and preparing its context:
    great-expectations' imports take 3 s of one core, holding Python's lock on this process
    meanwhile, and would then sit on the run's critical path; in their own process they use
    the other core while this one works. Once per process (a batch of videos shares it); a
    daemon, stopped when this process exits, even halfway through its imports."""
    global _checker
    with _lock:
        if _checker is None:
            with _main_left_out():
                _checker = get_context("spawn").Pool(1, initializer=prepare)


@contextmanager
def _main_left_out() -> Iterator[None]:
    """A spawned process first runs its parent's `__main__` module again (by name or path),
    which the checker has no use for: under a worker that is `prefect.engine`, a second import
    of Prefect (about 1 s of CPU a run; under `vidp process`, the CLI's script, little). Shown a
    bare `__main__` while it starts, it runs nothing of it. (A process the pool starts later, to
    replace one that died, runs it: slower, no different.)"""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def check_outputs(detections: pd.DataFrame, cues: pd.DataFrame, duration_s: float) -> int:
    """Validate both frames; return how many expectations passed, raise naming any that failed.
    In the checker's process when `start_checker` started one."""
    if _checker is not None:
        verdict = _checker.apply_async(_check, (detections, cues, duration_s))
        try:
            return verdict.get(_CHECKER_WAIT_S)
        except multiprocessing.TimeoutError:
            logging.getLogger(__name__).warning("the quality gate's process did not answer")
    return _check(detections, cues, duration_s)


def _check(detections: pd.DataFrame, cues: pd.DataFrame, duration_s: float) -> int:
    import great_expectations as gx

    failures: list[str] = []
    passed = 0
    with _lock:
        batches = _batches()
        for name, expectations in _suites(duration_s).items():
            frame = {"detections": detections, "cues": cues}[name]
            if frame.empty:
                continue
            batch = batches[name].get_batch(batch_parameters={"dataframe": frame})
            suite = gx.ExpectationSuite(name=name, expectations=expectations)
            for result in batch.validate(suite).results:
                if result.success:
                    passed += 1
                    continue
                config = result.expectation_config
                columns = ",".join(
                    str(config.kwargs[k])
                    for k in ("column", "column_A", "column_B")
                    if k in config.kwargs
                )
                failures.append(f"{name}: {config.type}({columns})")
    if failures:
        raise QualityGateFailed("quality gate failed: " + "; ".join(failures))
    return passed


def untranscribed_warning(spans: list[tuple[float, float]], speech_s: float) -> str | None:
    """One line saying which speech produced no words, or None when all of it did. (A warning,
    not a failure: the run's other outputs stand, and the manifest lists the stretches.)"""
    if not spans:
        return None
    lost = sum(end - start for start, end in spans)
    where = ", ".join(f"{start:.1f}–{end:.1f} s" for start, end in spans)
    return f"speech without words: {where} ({lost:.1f} of {speech_s:.1f} s of speech)"
