"""`sweep-uploads`: start one `process-video` run per new video in an upload prefix; short
videos' runs are run in batches by `process-batch` (one process for several, models loaded once)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    WorkerFilter,
    WorkerFilterStatus,
)
from prefect.client.schemas.objects import TERMINAL_STATES, FlowRun, WorkerStatus
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run
from pydantic import Field

from vidp.options import ProcessOptions
from vidp.storage import StoredObject
from vidp.sweep import in_batches, list_uploads, plan_sweep

__all__ = ["BATCH_QUEUE", "sweep_uploads"]

# Where short videos' runs wait for their batch: a paused work queue, so that no worker takes them.
BATCH_QUEUE = "vidp-batched"


@task(retries=3, retry_delay_seconds=[2, 8, 30])
def list_upload_objects(uploads: str) -> list[StoredObject]:
    """List the upload prefix."""
    return list_uploads(uploads)


def _batching(client: SyncPrefectClient, deployment: str, batch_deployment: str) -> str | None:
    """The work pool where short videos can go in batches: `deployment`'s, if `batch_deployment`
    is on it too; the paused queue their runs wait on is made there the first time. None when
    they cannot."""
    logger = get_run_logger()
    if not batch_deployment:
        return None
    try:
        batch_pool = client.read_deployment_by_name(batch_deployment).work_pool_name
        pool = client.read_deployment_by_name(deployment).work_pool_name
    except ObjectNotFound:
        logger.info("no deployment %s: every video gets a run of its own", batch_deployment)
        return None
    if batch_pool != pool:  # its workers could not be those of the runs it would hold
        logger.warning(
            "%s is on pool %s, %s on %s: every video gets a run of its own",
            batch_deployment,
            batch_pool,
            deployment,
            pool,
        )
        return None
    try:
        client.read_work_queue_by_name(BATCH_QUEUE, work_pool_name=pool)
    except ObjectNotFound:
        client.create_work_queue(
            BATCH_QUEUE,
            description="process-video runs waiting for their process-batch run (no worker "
            "takes runs from here: keep it paused)",
            is_paused=True,
            work_pool_name=pool,
        )
    return pool


def _online_workers(client: SyncPrefectClient, pool: str) -> int:
    online = WorkerFilter(status=WorkerFilterStatus(any_=[WorkerStatus.ONLINE.value]))
    return len(client.read_workers_for_work_pool(pool, worker_filter=online))


def _waiting_in_batches(client: SyncPrefectClient, batch_deployment: str) -> set[str]:
    """The runs that a `process-batch` run not yet ended will run."""
    batch = client.read_deployment_by_name(batch_deployment)
    live = client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[batch.id])),
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(not_any_=list(TERMINAL_STATES)))
        ),
    )
    return {str(i) for run in live for i in run.parameters.get("flow_run_ids", [])}


@flow(name="sweep-uploads")
def sweep_uploads(
    uploads: str,
    output: str,
    max_runs: int = Field(20, ge=1, le=1000),
    deployment: str = "process-video/default",
    options: ProcessOptions | None = None,
    batch_deployment: str = "process-batch/default",
    batch_max_bytes: int = Field(64 * 2**20, ge=0),
    batch_size: int = Field(20, ge=1, le=100),
) -> dict[str, Any]:
    """Start `deployment` once per video object not yet processed; return what was done.

    Args:
        uploads: The upload prefix, s3://bucket/prefix.
        output: Where the video runs publish (their `output` parameter); keys under it are ignored.
        max_runs: At most this many new runs per sweep; the rest wait for the next one.
        deployment: The deployment to start for each video.
        options: Processing options for the runs; empty means that deployment's defaults.
        batch_deployment: Runs the short videos' runs in one process per batch: one batch for
            each worker online in the pool, while there are videos enough; empty (or no such
            deployment) gives every video a process of its own.
        batch_max_bytes: Videos of at most this size are short (64 MiB: about 25 s of 1080p
            phone video); 0 batches none.
        batch_size: At most this many videos in one batch (more batches beyond that).
    """
    logger = get_run_logger()
    videos, ignored = plan_sweep(list_upload_objects(uploads), output)
    started = flow_run.scheduled_start_time
    rows: list[dict[str, str]] = [
        {"object": uri, "action": "ignored", "detail": why} for uri, why in ignored.items()
    ]
    with get_client(sync_client=True) as client:
        pool = _batching(client, deployment, batch_deployment) if batch_max_bytes > 0 else None
        batching = pool is not None
        waiting = _waiting_in_batches(client, batch_deployment) if batching else set()
        workers = _online_workers(client, pool) if pool is not None else 0
    to_batch: dict[str, dict[str, str]] = {}  # run id -> its row, told its batch once it has one
    dispatched = 0
    for video in videos:
        if dispatched >= max_runs:
            rows.append(
                {
                    "object": video.uri,
                    "action": "deferred",
                    "detail": f"max_runs={max_runs} reached",
                }
            )
            continue
        parameters: dict[str, Any] = {"source": video.uri, "output": output}
        if options is not None:
            parameters["options"] = options.model_dump()
        short = batching and video.size <= batch_max_bytes
        # The idempotency key (bucket/key/etag) makes the server return the existing run for an
        # object version it has seen: a second sweep, or two at once, never process it twice.
        run: FlowRun = run_deployment(  # type: ignore[assignment]  # a FlowRun, called sync
            deployment,
            parameters=parameters,
            idempotency_key=video.idempotency_key,
            timeout=0,
            as_subflow=False,
            work_queue_name=BATCH_QUEUE if short else None,
        )
        new = run.created is None or started is None or run.created >= started
        # A short video's run whose batch ended before running it (the batch crashed, or a sweep
        # stopped before starting one) goes in a new batch.
        stranded = (
            run.work_queue_name == BATCH_QUEUE
            and run.state is not None
            and run.state.is_scheduled()
            and str(run.id) not in waiting
        )
        dispatched += new or stranded
        row = {
            "object": video.uri,
            "action": "dispatched" if new or stranded else "skipped",
            "detail": f"{run.name} ({run.id})"
            + ("" if new else ", again" if stranded else f", {run.state_name}"),
        }
        rows.append(row)
        if short and (new or stranded):
            to_batch[str(run.id)] = row
    # No idempotency key: two sweeps at once may each start a batch of the same runs, and each
    # run is claimed by one of them (process-batch).
    for members in in_batches(list(to_batch), batch_size, workers):
        batch: FlowRun = run_deployment(  # type: ignore[assignment]
            batch_deployment,
            parameters={"flow_run_ids": members},
            timeout=0,
            as_subflow=False,
        )
        for member in members:
            to_batch[member]["detail"] += f", in batch {batch.name} ({batch.id})"
    summary = {
        a: sum(r["action"] == a for r in rows)
        for a in ("dispatched", "skipped", "deferred", "ignored")
    }
    logger.info(
        "sweep of %s: %s (%d in batches; %d workers online)",
        uploads,
        summary,
        len(to_batch),
        workers,
    )
    create_table_artifact(rows, key="sweep-uploads", description=f"sweep of {uploads}: {summary}")
    return {"summary": summary, "objects": rows}
