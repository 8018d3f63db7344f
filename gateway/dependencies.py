"""What the gateway's routes share: its settings, the catalog, Prefect's API, and starting a run
with HTTP errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Annotated, Any

import anyio
import httpx
from fastapi import Depends, HTTPException, Request
from prefect.exceptions import PrefectHTTPStatusError

from vidp.gateway.catalog import Reader
from vidp.gateway.runs import DeploymentMissing, InvalidParameters, PrefectRuns, StartedRun
from vidp.gateway.settings import GatewaySettings, get_gateway_settings

__all__ = [
    "Catalog",
    "Runs",
    "Settings",
    "come_back_later",
    "deployment_ready",
    "prefect_answers",
    "prefect_runs",
    "start",
]


async def _settings() -> GatewaySettings:
    # async: FastAPI runs a plain function dependency in a worker thread, a hop per request.
    return get_gateway_settings()


Settings = Annotated[GatewaySettings, Depends(_settings)]


async def _catalog(request: Request) -> Reader:
    return request.app.state.catalog


Catalog = Annotated[Reader, Depends(_catalog)]

_PREFECT_RUNS = PrefectRuns()  # it keeps no state: one serves every request


async def prefect_runs() -> PrefectRuns:
    """Prefect's API; tests replace it with `app.dependency_overrides[prefect_runs]`."""
    return _PREFECT_RUNS


Runs = Annotated[PrefectRuns, Depends(prefect_runs)]

RETRY_AFTER_S = 30  # when a dependency fails: senders and clients come back


async def start(
    request: Request,
    settings: GatewaySettings,
    runs: PrefectRuns,
    parameters: dict[str, Any],
    key: str | None,
) -> StartedRun:
    """Start a run of the gateway's deployment; the server's refusals as HTTP errors."""
    async with _start_slot(request, settings):
        try:
            run = await runs.start(settings.deployment, parameters, key)
        except DeploymentMissing as e:
            raise _unavailable(e) from None
        except InvalidParameters as e:
            raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, str(e)) from None
        except (httpx.HTTPError, PrefectHTTPStatusError) as e:
            raise _prefect_down(e) from None
    request.app.state.metrics.runs_triggered.labels(request.url.path).inc()
    return run


@asynccontextmanager
async def _start_slot(request: Request, settings: GatewaySettings) -> AsyncIterator[None]:
    """One of VIDP_GATEWAY_MAX_STARTING places to start a run in. A burst waits for one up to
    VIDP_GATEWAY_START_WAIT_S, then is told to come back (429): Prefect's API is never asked
    for more at once, and nothing is started that the sender was not told about."""
    slots: anyio.Semaphore = request.app.state.start_slots
    with anyio.move_on_after(settings.start_wait_s) as waited:
        await slots.acquire()
    if waited.cancelled_caught:
        raise HTTPException(
            HTTPStatus.TOO_MANY_REQUESTS,
            f"{settings.max_starting} runs are being started: try again shortly",
            headers={"Retry-After": str(max(1, round(settings.start_wait_s)))},
        )
    try:
        yield
    finally:
        slots.release()


async def deployment_ready(settings: Settings, runs: Runs) -> None:
    """503 unless the deployment runs are started from is registered."""
    try:
        await runs.require(settings.deployment)
    except DeploymentMissing as e:
        raise _unavailable(e) from None
    except (httpx.HTTPError, PrefectHTTPStatusError) as e:
        raise _prefect_down(e) from None


@asynccontextmanager
async def prefect_answers() -> AsyncIterator[None]:
    """Prefect's API failing in the block is 503 with Retry-After, as everywhere else."""
    try:
        yield
    except (httpx.HTTPError, PrefectHTTPStatusError) as e:
        raise _prefect_down(e) from None


def _unavailable(error: DeploymentMissing) -> HTTPException:
    return HTTPException(HTTPStatus.SERVICE_UNAVAILABLE, str(error))


def _prefect_down(error: Exception) -> HTTPException:
    return come_back_later(f"cannot reach Prefect's API now: {type(error).__name__}")


def come_back_later(detail: str) -> HTTPException:
    """503 with Retry-After: a dependency (S3, Prefect's API, the catalog's database) fails;
    senders deliver again."""
    return HTTPException(
        HTTPStatus.SERVICE_UNAVAILABLE, detail, headers={"Retry-After": str(RETRY_AFTER_S)}
    )
