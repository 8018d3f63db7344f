"""Start `process-video` runs through Prefect's API: every run is a normal flow run the UI shows."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterType,
)
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.responses import DeploymentResponse
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.utilities.urls import url_for
from pydantic import BaseModel

__all__ = [
    "DeploymentMissing",
    "InvalidParameters",
    "PrefectRuns",
    "RunProgress",
    "StartedRun",
]


class DeploymentMissing(RuntimeError):
    """The deployment runs are started from is not registered."""


class InvalidParameters(ValueError):
    """The server refused the parameters (the deployment enforces the flow's schema)."""


class StartedRun(BaseModel):
    flow_run_id: str
    name: str
    state: str
    url: str | None  # the run in the Prefect UI
    source: str

    @classmethod
    def of(cls, run: FlowRun, source: str) -> StartedRun:
        return cls(
            flow_run_id=str(run.id),
            name=run.name,
            state=run.state.name if run.state else "Scheduled",
            url=url_for("flow-run", run.id),
            source=source,
        )


async def _deployment(client: PrefectClient, name: str) -> DeploymentResponse:
    try:
        return await client.read_deployment_by_name(name)
    except ObjectNotFound:
        raise DeploymentMissing(
            f"deployment {name} not found: register it with `vidp deploy`"
        ) from None


class RunProgress(BaseModel):
    """Where a run is: its Prefect state and the progress artifact the flow keeps up to date."""

    flow_run_id: str
    state: str
    message: str | None
    percent: float | None
    step: str | None
    url: str | None


class PrefectRuns:
    """Prefect's API as the routes use it, handed to them as one dependency
    (`dependencies.prefect_runs`), so that tests can answer for the server in memory."""

    async def require(self, deployment: str) -> None:
        """Raise DeploymentMissing unless `deployment` is registered (checked before taking an
        upload)."""
        async with get_client() as client:
            await _deployment(client, deployment)

    async def start(
        self, deployment: str, parameters: dict[str, Any], idempotency_key: str | None
    ) -> StartedRun:
        """Create a run of `deployment`; with a key already used, the server returns that run."""
        async with get_client() as client:
            target = await _deployment(client, deployment)
            try:
                run = await client.create_flow_run_from_deployment(
                    target.id, parameters=parameters, idempotency_key=idempotency_key
                )
            except PrefectHTTPStatusError as e:
                if e.response.status_code in (409, 422):
                    raise InvalidParameters(e.response.json().get("detail", str(e))) from None
                raise
        return StartedRun.of(run, parameters["source"])

    async def existing(self, flow_run_id: str, source: str) -> StartedRun | None:
        """A run started before, as `start` answers it; None when the server does not know it."""
        async with get_client() as client:
            try:
                run = await client.read_flow_run(UUID(flow_run_id))
            except (ObjectNotFound, ValueError):
                return None
        return StartedRun.of(run, source)

    async def progress(self, flow_run_id: str) -> RunProgress | None:
        """The run's state and progress, or None when the server does not know the run."""
        async with get_client() as client:
            try:
                run = await client.read_flow_run(UUID(flow_run_id))
            except (ObjectNotFound, ValueError):
                return None
            progress = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]),
                    type=ArtifactFilterType(any_=["progress"]),
                ),
                limit=1,
            )
        latest = progress[0] if progress else None
        return RunProgress(
            flow_run_id=flow_run_id,
            state=run.state.name if run.state else "Unknown",
            message=run.state.message if run.state else None,
            # A progress artifact's data is its percent.
            percent=float(latest.data) if latest and latest.data is not None else None,  # type: ignore[arg-type]
            step=latest.description.removeprefix("vidp: ")
            if latest and latest.description
            else None,
            url=url_for("flow-run", run.id),
        )
