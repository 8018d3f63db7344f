"""The gateway's HTTP API (FastAPI): `vidp gateway` serves it with uvicorn."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request, status
from pydantic import BaseModel, Field

from gateway.notifications import NotNotification, created_objects
from gateway.runs import DeploymentMissing, InvalidParameters, StartedRun, start_run
from gateway.settings import GatewaySettings, get_gateway_settings
from gateway.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, BadSignature, verify
from vidp import __version__
from vidp.settings import get_settings
from vidp.sweep import plan_sweep

__all__ = ["create_app"]

Settings = Annotated[GatewaySettings, Depends(get_gateway_settings)]


class RunsStarted(BaseModel):
    """What a webhook started: one run per video, the same run again for a repeated delivery."""

    runs: list[StartedRun]
    ignored: dict[str, str] = Field(
        default_factory=dict, description="Objects that were not started, and why."
    )


class RunRequest(BaseModel):
    source: str = Field(description="The video: s3://bucket/key, or a path the workers can read.")
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Other process-video parameters: `output`, `options` (checked by Prefect).",
    )


async def signed_body(
    request: Request,
    settings: Settings,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
    timestamp: Annotated[str | None, Header(alias=TIMESTAMP_HEADER)] = None,
) -> bytes:
    """The raw body, once its signature is checked; 401 otherwise."""
    if settings.secret is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "webhooks need VIDP_GATEWAY_SECRET"
        )
    body = await request.body()
    try:
        verify(
            settings.secret.get_secret_value(),
            body,
            signature,
            timestamp,
            now=time.time(),
            window_s=settings.replay_window_s,
        )
    except BadSignature as e:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(e)) from None
    return body


SignedBody = Annotated[bytes, Depends(signed_body)]


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the body is not JSON") from None


async def _start(
    settings: GatewaySettings, parameters: dict[str, Any], key: str | None
) -> StartedRun:
    try:
        return await start_run(settings.deployment, parameters, key)
    except DeploymentMissing as e:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(e)) from None
    except InvalidParameters as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(e)) from None


_SIGNED: dict[int | str, dict[str, Any]] = {
    401: {"description": f"missing, wrong or stale {SIGNATURE_HEADER} / {TIMESTAMP_HEADER}"}
}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI request body of an endpoint that reads its raw body (to check a signature)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def create_app() -> FastAPI:
    app = FastAPI(
        title="vidp gateway",
        version=__version__,
        description="Webhooks and uploads that start `process-video` runs on Prefect, and the "
        "catalog of processed videos.",
    )

    @app.post(
        "/webhooks/s3",
        status_code=status.HTTP_202_ACCEPTED,
        responses=_SIGNED,
        openapi_extra=_json_body({"type": "object", "properties": {"Records": {"type": "array"}}}),
    )
    async def s3_notification(body: SignedBody, settings: Settings) -> RunsStarted:
        """An S3 or MinIO bucket notification: one `process-video` run per created video.

        Idempotent: the same object version (bucket, key, ETag) always gives the same run.
        """
        try:
            objects = created_objects(_json(body))
        except NotNotification as e:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(e)) from None
        videos, ignored = plan_sweep(objects, get_settings().output)
        runs = [await _start(settings, {"source": v.uri}, v.idempotency_key) for v in videos]
        return RunsStarted(runs=runs, ignored=ignored)

    @app.post(
        "/webhooks/run",
        status_code=status.HTTP_202_ACCEPTED,
        responses=_SIGNED,
        openapi_extra=_json_body(RunRequest.model_json_schema()),
    )
    async def run_request(
        body: SignedBody,
        settings: Settings,
        idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
    ) -> RunsStarted:
        """Start one run for `source`; the same `Idempotency-Key` always gives the same run."""
        try:
            request = RunRequest.model_validate(_json(body))
        except ValueError as e:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(e)) from None
        parameters = {**request.parameters, "source": request.source}
        return RunsStarted(runs=[await _start(settings, parameters, idempotency_key)])

    return app
