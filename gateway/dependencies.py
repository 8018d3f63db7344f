"""What the gateway's routes share: its settings, and starting a run with HTTP errors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from vidp.gateway.runs import (
    DeploymentMissing,
    InvalidParameters,
    StartedRun,
    require_deployment,
    start_run,
)
from vidp.gateway.settings import GatewaySettings, get_gateway_settings

__all__ = ["Settings", "deployment_ready", "start"]

Settings = Annotated[GatewaySettings, Depends(get_gateway_settings)]


async def start(
    request: Request, settings: GatewaySettings, parameters: dict[str, Any], key: str | None
) -> StartedRun:
    """Start a run of the gateway's deployment; the server's refusals as HTTP errors."""
    try:
        run = await start_run(settings.deployment, parameters, key)
    except DeploymentMissing as e:
        raise _unavailable(e) from None
    except InvalidParameters as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(e)) from None
    request.app.state.metrics.runs_triggered.labels(request.url.path).inc()
    return run


async def deployment_ready(settings: Settings) -> None:
    """503 unless the deployment runs are started from is registered."""
    try:
        await require_deployment(settings.deployment)
    except DeploymentMissing as e:
        raise _unavailable(e) from None


def _unavailable(error: DeploymentMissing) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error))
