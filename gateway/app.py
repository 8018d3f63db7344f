"""The gateway's HTTP API (FastAPI): `vidp gateway` serves it with uvicorn."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from vidp import __version__
from vidp.gateway import videos, webhooks
from vidp.gateway.dependencies import Settings
from vidp.gateway.health import check_all
from vidp.gateway.metrics import Metrics

__all__ = ["create_app"]


def create_app() -> FastAPI:
    app = FastAPI(
        title="vidp gateway",
        version=__version__,
        description="Webhooks and uploads that start `process-video` runs on Prefect, and the "
        "catalog of processed videos.",
    )
    app.state.metrics = Metrics()

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        app.state.metrics.requests.labels(
            request.method, getattr(route, "path", "unmatched"), str(response.status_code)
        ).inc()
        return response

    @app.get("/healthz", responses={503: {"description": "a dependency is not working"}})
    def healthz(settings: Settings) -> JSONResponse:
        """Prefect's API, the upload storage, the catalog's database and ffmpeg, each checked."""
        checks = check_all(settings.uploads)
        healthy = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if healthy else "failing", "checks": checks},
            status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> Response:
        """Prometheus metrics: requests, runs triggered, webhook rejects, run outcomes and
        durations."""
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(webhooks.router)
    app.include_router(videos.router)
    return app
