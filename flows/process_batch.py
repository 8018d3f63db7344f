"""`process-batch`: several short videos' `process-video` runs, executed in this one flow run's
process, two side by side (`vidp.side_by_side`), so that a batch pays a process's start, imports
and model loads once.

`sweep-uploads` creates each short video's own `process-video` run (its idempotency key, its
parameters, its page in the UI, exactly as for a long one) on a paused work queue that no worker
takes runs from, then one `process-batch` run that names them. Each is claimed here as a worker
claims a run (Scheduled to Pending: Prefect refuses a second claim, and holds the deployment's
concurrency limit), then run by Prefect's engine in this process. A run that another batch or a
worker claimed first is left to it.
"""

from __future__ import annotations

import time
from typing import Any, cast
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import FlowRun, State
from prefect.client.schemas.responses import OrchestrationResult, SetStateStatus
from prefect.flow_engine import run_flow
from prefect.states import Pending

from vidp.flows.process_video import process_video
from vidp.side_by_side import share_cores, side_by_side

__all__ = ["process_batch"]

# A claim that waits for a slot of process-video's concurrency limit asks again this often.
_SLOT_WAIT_S = 5.0


def _claim(client: SyncPrefectClient, run_id: UUID) -> FlowRun | None:
    """The run, Pending for this process; None when it is no longer waiting to run."""
    while True:
        run = client.read_flow_run(run_id)
        if run.state is None or not run.state.is_scheduled():
            return None
        answer: OrchestrationResult[Any] = client.set_flow_run_state(run_id, Pending())
        if answer.status == SetStateStatus.ACCEPT:
            return client.read_flow_run(run_id)
        if answer.status == SetStateStatus.ABORT:
            return None
        # WAIT, or REJECT into AwaitingConcurrencySlot: the deployment's runs are at its limit.
        time.sleep(getattr(answer.details, "delay_seconds", None) or _SLOT_WAIT_S)


def _run_one(run_id: UUID) -> tuple[UUID, FlowRun | None, str]:
    """Claim and run one `process-video` run here; the run (None when it was left to another
    batch or a worker, or cancelled) and the name of its final state."""
    with get_client(sync_client=True) as client:
        run = _claim(client, run_id)
        if run is None:
            state = client.read_flow_run(run_id).state
            return run_id, None, f"left: {state.name if state else 'no state'}"
    final = cast(State, run_flow(process_video, flow_run=run, return_type="state"))
    return run_id, run, final.name or final.type.value


@flow(name="process-batch")
def process_batch(flow_run_ids: list[UUID]) -> dict[str, str]:
    """Run each `process-video` run named, in this process; return each one's final state.

    Args:
        flow_run_ids: The runs, created by `sweep-uploads` on its paused queue.
    """
    logger = get_run_logger()
    share_cores(len(flow_run_ids))
    ended: dict[str, str] = {}
    rows: list[dict[str, str]] = []
    for run_id, run, state in side_by_side(_run_one, flow_run_ids):
        ended[str(run_id)] = state
        video = run.name if run else ""
        rows.append({"flow run": str(run_id), "video": video, "state": state})
    logger.info("batch of %d: %s", len(flow_run_ids), ended)
    create_table_artifact(rows, key="process-batch", description="the videos of this batch")
    return ended
