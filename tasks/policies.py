"""What the tasks share: the cache key, the retry rule and the model tag."""

from __future__ import annotations

from prefect import Task
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from vidp.errors import RejectedInput

__all__ = ["CACHED", "MODEL_TAG", "IO_RETRIES", "retry_unless_rejected"]

# Task inputs carry the video's SHA-256 (through VideoRef) and the parameters, so the key is
# the video + parameters + the task's code.
CACHED = INPUTS + TASK_SOURCE

# `prefect concurrency-limit create gpu 1` bounds model work across runs.
MODEL_TAG = "gpu"

IO_RETRIES = {"retries": 3, "retry_delay_seconds": [2, 8, 30], "retry_jitter_factor": 0.5}


def retry_unless_rejected(task: Task, task_run: TaskRun, state: State) -> bool:
    """Retry I/O failures; bad input fails the same way every time."""
    try:
        state.result()
    except RejectedInput:
        return False
    except Exception:
        return True
    return False
