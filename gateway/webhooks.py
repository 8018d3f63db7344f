"""Signed webhooks that start `process-video` runs: bucket notifications and run requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Depends, Header, HTTPException, Request
from pydantic import BaseModel, Field

from vidp import storage
from vidp.gateway.dependencies import Runs, Settings, come_back_later, start
from vidp.gateway.notifications import NotNotification, created_objects
from vidp.gateway.runs import StartedRun
from vidp.gateway.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, BadSignature, verify
from vidp.settings import get_settings
from vidp.sweep import current_version, current_versions, plan_sweep

__all__ = ["router"]

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

T = TypeVar("T")


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
        raise HTTPException(HTTPStatus.SERVICE_UNAVAILABLE, "webhooks need VIDP_GATEWAY_SECRET")
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
        request.app.state.metrics.webhook_rejects.labels(request.url.path).inc()
        raise HTTPException(HTTPStatus.UNAUTHORIZED, str(e)) from None
    return body


SignedBody = Annotated[bytes, Depends(signed_body)]


async def notification_body(
    request: Request,
    settings: Settings,
    authorization: Annotated[str | None, Header()] = None,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
    timestamp: Annotated[str | None, Header(alias=TIMESTAMP_HEADER)] = None,
) -> bytes:
    """A signed body, or, where VIDP_GATEWAY_NOTIFY_TOKEN is set and no signature is sent, a body
    that carries that token as `Authorization: Bearer` (MinIO's webhook target cannot sign)."""
    token = settings.notify_token
    if token is not None and signature is None and authorization is not None:
        sent = authorization.removeprefix("Bearer ").strip()
        if hmac.compare_digest(sent.encode(), token.get_secret_value().encode()):
            return await request.body()
        request.app.state.metrics.webhook_rejects.labels(request.url.path).inc()
        raise HTTPException(HTTPStatus.UNAUTHORIZED, "wrong notification token")
    return await signed_body(request, settings, signature, timestamp)


NotificationBody = Annotated[bytes, Depends(notification_body)]


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise HTTPException(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None


_SIGNED: dict[int | str, dict[str, Any]] = {
    401: {"description": f"missing, wrong or stale {SIGNATURE_HEADER} / {TIMESTAMP_HEADER}"}
}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI request body of an endpoint that reads its raw body (to check a signature)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def _from_bucket(call: Callable[..., T], *args: Any) -> T:
    """An S3 call off the event loop. S3 failing (throttled, unreachable, denied) is 503 with
    Retry-After: S3, MinIO and EventBridge deliver again, so no upload is dropped."""
    try:
        return await anyio.to_thread.run_sync(call, *args)
    except (ClientError, BotoCoreError) as e:
        raise come_back_later(f"cannot read the bucket now: {e}") from None


@router.post(
    "/s3",
    status_code=HTTPStatus.ACCEPTED,
    responses=_SIGNED,
    openapi_extra=_json_body({"type": "object", "properties": {"Records": {"type": "array"}}}),
)
async def s3_notification(
    request: Request, body: NotificationBody, settings: Settings, runs: Runs
) -> RunsStarted:
    """An S3 or MinIO bucket notification: one `process-video` run per created video.

    Idempotent: the same object version (bucket, key, ETag) always gives the same run. Each
    object is read as it is in the bucket now: one that is not there starts nothing.
    """
    try:
        notified = created_objects(_json(body))
    except NotNotification as e:
        raise HTTPException(HTTPStatus.BAD_REQUEST, str(e)) from None
    objects, gone = await _from_bucket(current_versions, notified)
    videos, ignored = plan_sweep(objects, get_settings().output)
    started = [
        await start(request, settings, runs, {"source": v.uri}, v.idempotency_key) for v in videos
    ]
    return RunsStarted(runs=started, ignored=gone | ignored)


@router.post(
    "/run",
    status_code=HTTPStatus.ACCEPTED,
    responses=_SIGNED,
    openapi_extra=_json_body(RunRequest.model_json_schema()),
)
async def run_request(
    request: Request,
    body: SignedBody,
    settings: Settings,
    runs: Runs,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> RunsStarted:
    """Start one run for `source`. A source in object storage is keyed by its version and the
    parameters, as a sweep or a notification of that object is, so each way in finds the same
    run; an object that is not there is 422. Other sources are keyed by `Idempotency-Key`."""
    try:
        asked = RunRequest.model_validate(_json(body))
    except ValueError as e:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, str(e)) from None
    if not settings.allows_run_source(asked.source):
        raise HTTPException(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            f"source not allowed: it must start with one of {', '.join(settings.run_sources)} "
            "(VIDP_GATEWAY_RUN_SOURCES)",
        )
    key = idempotency_key
    if _versioned(asked.source):
        try:
            found = await _from_bucket(current_version, asked.source)
        except ValueError as e:  # not bucket and key
            raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, str(e)) from None
        if found is None:
            raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, f"no such object: {asked.source}")
        key = found.idempotency_key + (f"/{_digest(asked.parameters)}" if asked.parameters else "")
    parameters = {**asked.parameters, "source": asked.source}
    return RunsStarted(runs=[await start(request, settings, runs, parameters, key)])


def _versioned(uri: str) -> bool:
    """Whether `uri` names an object whose version keys its run (a file goes by Idempotency-Key)."""
    try:
        return storage.at(uri).versioned
    except storage.UnsupportedStorage:  # the run rejects it, with the reason
        return False


def _digest(parameters: dict[str, Any]) -> str:
    """The same parameters, however they are ordered, give the same digest."""
    text = json.dumps(parameters, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
