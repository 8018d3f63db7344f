"""The gateway's HTTP API (FastAPI): `vidp gateway` serves it with uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import OperationalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidp import __version__, catalog
from vidp.gateway import videos, webhooks
from vidp.gateway.catalog import Reader
from vidp.gateway.dependencies import Settings, come_back_later
from vidp.gateway.health import check_all
from vidp.gateway.metrics import Metrics
from vidp.gateway.settings import get_gateway_settings

__all__ = ["create_app"]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.catalog = Reader(catalog.catalog_url(), get_gateway_settings().catalog_connections)
    yield
    await app.state.catalog.close()


def create_app() -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan,
        title="vidp gateway",
        version=__version__,
        description="Webhooks and uploads that start `process-video` runs on Prefect, and the "
        "catalog of processed videos.",
    )
    app.state.metrics = Metrics()
    app.state.start_slots = anyio.Semaphore(get_gateway_settings().max_starting)
    app.state.upload_locks = [anyio.Lock() for _ in range(64)]

    app.add_middleware(_CountRequests, metrics=app.state.metrics)

    @app.exception_handler(OperationalError)
    async def catalog_down(request: Request, error: OperationalError) -> Response:
        # The catalog's database is down or restarting: callers come back, as for S3 and Prefect.
        down = come_back_later(f"cannot reach the catalog's database now: {type(error).__name__}")
        return await http_exception_handler(request, down)

    @app.get("/healthz", responses={503: {"description": "a dependency is not working"}})
    def healthz(settings: Settings) -> JSONResponse:
        """Prefect's API, the upload storage, the catalog's database and ffmpeg, each checked."""
        checks = check_all(settings.uploads)
        healthy = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if healthy else "failing", "checks": checks},
            HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE,
        )

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> Response:
        """Prometheus metrics: requests, runs triggered, webhook rejects, run outcomes and
        durations."""
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(webhooks.router)
    app.include_router(videos.router)
    return app


class _CountRequests:
    """Counts each HTTP request by method, route and status (plain ASGI: Starlette's
    BaseHTTPMiddleware costs a task and a stream per request, a sixth of a catalog read)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status_code = "500"  # unless a response starts

        async def send_counted(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], route, status_code).inc()
