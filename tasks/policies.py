"""What the tasks share: cache policies (and the refresh that the runs they start inherit), the
retry rule and the model slot."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from prefect import Task
from prefect.cache_policies import INPUTS, TASK_SOURCE, CacheKeyFnPolicy
from prefect.client.schemas.objects import TaskRun
from prefect.concurrency.sync import concurrency
from prefect.context import TaskRunContext
from prefect.settings import PREFECT_TASKS_REFRESH_CACHE
from prefect.states import State

from vidp.devices import resolve_device
from vidp.errors import RejectedInput
from vidp.settings import get_settings
from vidp.whisper_model import whisper_precision
from vidp.workfiles import files_scope, machine_scope

__all__ = ["CACHED", "CACHED_FILES", "CACHED_ON_MACHINE", "ON_MODEL_RUNTIME", "IO_RETRIES"]
__all__ += ["STEP_TIMEOUT", "StepTimedOut", "model_slot", "refreshing", "retry_unless_rejected"]
__all__ += ["started_runs_refresh", "with_timeout_named"]


def _files_scope(_: TaskRunContext, inputs: dict[str, Any]) -> str:
    return files_scope(inputs["video"])


def _machine_scope(_: TaskRunContext, inputs: dict[str, Any]) -> str:
    return machine_scope(inputs["video"])


def _model_runtime(_: TaskRunContext, inputs: dict[str, Any]) -> str:
    device = resolve_device(get_settings().device)
    return f"{device}-{whisper_precision(device)}"


# Inputs carry the video's SHA-256 (through VideoRef and WorkFile) and the parameters, so the
# key is the video + parameters + the task's code: the same on every machine.
# For tasks that return data.
CACHED = INPUTS + TASK_SOURCE
# For tasks that return WorkFiles: also where those files can be read back (the work store, or
# this machine's work folder), so a hit never names a file the reader cannot get.
CACHED_FILES = CACHED + CacheKeyFnPolicy(cache_key_fn=_files_scope)
# For the 16 kHz audio, cheaper to remake than to move between machines.
CACHED_ON_MACHINE = CACHED + CacheKeyFnPolicy(cache_key_fn=_machine_scope)
# For model tasks, added to one of the above: the device and precision the models run at
# (VIDP_DEVICE), since their results differ.
ON_MODEL_RUNTIME = CacheKeyFnPolicy(cache_key_fn=_model_runtime)


def refreshing() -> bool:
    """Whether this run recomputes its steps instead of reusing cached results
    (PREFECT_TASKS_REFRESH_CACHE; `vidp process --refresh-cache`)."""
    return bool(PREFECT_TASKS_REFRESH_CACHE.value())


def started_runs_refresh() -> dict[str, Any]:
    """Job variables for a run this one starts on a pool (a segment's, `analyze-gpu`'s): while
    this run is `refreshing`, that run recomputes its steps too. Prefect merges the `env` into
    the pool's and the deployment's."""
    return {"env": {PREFECT_TASKS_REFRESH_CACHE.name: "true"}} if refreshing() else {}


def model_slot() -> AbstractContextManager[object]:
    """Hold a slot of this pool's model limit (VIDP_MODEL_LIMIT) while a model runs.

    Taken inside the task, so a cache hit takes none. A limit that does not exist (yet) is
    Prefect's usual warning, not an error. The slot is leased for MODEL_SLOT_LEASE_S and renewed
    while the model runs: the slot of a worker that dies comes back within about a minute.
    """
    name = get_settings().model_limit
    return concurrency(name, occupy=1, lease_duration=MODEL_SLOT_LEASE_S) if name else nullcontext()


# Prefect's default lease is 5 minutes: that long, a killed worker's slot held the pool's next
# model task back (measured: a re-run waited 3.5 min). Renewed every 45 s, one API call.
MODEL_SLOT_LEASE_S = 60


# Every step that works on the video: one that hangs (a stuck ffmpeg, a model that never returns
# to Python) fails the run after VIDP_STEP_TIMEOUT_S rather than holding its worker forever.
STEP_TIMEOUT: dict[str, Any] = {"timeout_seconds": get_settings().step_timeout_s}


class StepTimedOut(RuntimeError):
    """A step of the run ran past VIDP_STEP_TIMEOUT_S and was stopped."""


def with_timeout_named(error: Exception) -> Exception:
    """Prefect's task timeout does not say which limit it was; a StepTimedOut does."""
    if isinstance(error, TimeoutError):
        limit = get_settings().step_timeout_s
        return StepTimedOut(f"a step ran past VIDP_STEP_TIMEOUT_S ({limit:g} s): stopped")
    return error


class _TimeoutsInThreadsWork(logging.Filter):
    """Prefect warns, for every task run with a timeout in a worker thread, that the timeout
    cannot interrupt blocking calls. Ours block only in short sleeps (`run_ffmpeg` waits so), so
    the warning would be noise in every run's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Timeout of %s seconds configured for this task")


logging.getLogger("prefect.task_runs").addFilter(_TimeoutsInThreadsWork())

IO_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": [2, 8, 30],
    "retry_jitter_factor": 0.5,
}


def retry_unless_rejected(task: Task, task_run: TaskRun, state: State) -> bool:
    """Retry I/O failures; bad input fails the same way every time."""
    try:
        state.result()
    except RejectedInput:
        return False
    except Exception:
        return True
    return False
