"""`sweep-uploads`: start one `process-video` run per new video in an upload prefix."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.runtime import flow_run
from pydantic import Field

from vidp.options import ProcessOptions
from vidp.storage import StoredObject
from vidp.sweep import list_uploads, plan_sweep

__all__ = ["sweep_uploads"]


@task(retries=3, retry_delay_seconds=[2, 8, 30])
def list_upload_objects(uploads: str) -> list[StoredObject]:
    """List the upload prefix."""
    return list_uploads(uploads)


@flow(name="sweep-uploads")
def sweep_uploads(
    uploads: str,
    output: str,
    max_runs: int = Field(20, ge=1, le=1000),
    deployment: str = "process-video/default",
    options: ProcessOptions | None = None,
) -> dict[str, Any]:
    """Start `deployment` once per video object not yet processed; return what was done.

    Args:
        uploads: The upload prefix, s3://bucket/prefix.
        output: Where the video runs publish (their `output` parameter); keys under it are ignored.
        max_runs: At most this many new runs per sweep; the rest wait for the next one.
        deployment: The deployment to start for each video.
        options: Processing options for the runs; empty means that deployment's defaults.
    """
    logger = get_run_logger()
    videos, ignored = plan_sweep(list_upload_objects(uploads), output)
    started = flow_run.scheduled_start_time
    rows: list[dict[str, str]] = [
        {"object": uri, "action": "ignored", "detail": why} for uri, why in ignored.items()
    ]
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
        # The idempotency key (bucket/key/etag) makes the server return the existing run for an
        # object version it has seen: a second sweep, or two at once, never process it twice.
        run: FlowRun = run_deployment(  # type: ignore[assignment]  # a FlowRun, called sync
            deployment,
            parameters=parameters,
            idempotency_key=video.idempotency_key,
            timeout=0,
            as_subflow=False,
        )
        new = run.created is None or started is None or run.created >= started
        dispatched += new
        rows.append(
            {
                "object": video.uri,
                "action": "dispatched" if new else "skipped",
                "detail": f"{run.name} ({run.id})" + ("" if new else f", {run.state_name}"),
            }
        )
    summary = {
        a: sum(r["action"] == a for r in rows)
        for a in ("dispatched", "skipped", "deferred", "ignored")
    }
    logger.info("sweep of %s: %s", uploads, summary)
    create_table_artifact(rows, key="sweep-uploads", description=f"sweep of {uploads}: {summary}")
    return {"summary": summary, "objects": rows}
