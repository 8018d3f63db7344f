"""The gateway's HTTP API (FastAPI): `vidp gateway` serves it with uvicorn."""

from __future__ import annotations

import hmac
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response, status
from fastapi import Path as Path_
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from gateway.health import check_all
from gateway.metrics import Metrics
from gateway.notifications import NotNotification, created_objects
from gateway.runs import (
    DeploymentMissing,
    InvalidParameters,
    RunProgress,
    StartedRun,
    run_progress,
    start_run,
)
from gateway.settings import GatewaySettings, get_gateway_settings
from gateway.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, BadSignature, verify
from gateway.uploads import BadUpload, NotAVideo, UploadTooLarge, delete_upload, receive_upload
from vidp import __version__, catalog
from vidp.publish import unpublish
from vidp.s3 import presign
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


class VideoSummary(BaseModel):
    """A catalog entry."""

    model_config = ConfigDict(from_attributes=True)

    video_id: str
    status: str = Field(description="queued, running, completed or failed")
    filename: str | None
    title: str | None
    tags: list[str]
    source_uri: str | None
    flow_run_id: str | None
    error: str | None = Field(description="Why the run failed, when it did.")
    created_at: datetime
    updated_at: datetime


class VideoPage(BaseModel):
    items: list[VideoSummary]
    total: int
    limit: int
    offset: int


class VideoDetail(VideoSummary):
    manifest: dict[str, Any] | None = Field(description="The published manifest, once completed.")
    run: RunProgress | None = Field(
        None, description="The run's state and progress while it works."
    )


class VideoEdit(BaseModel):
    """Editable metadata; a field left out stays as it is."""

    title: str | None = Field(None, max_length=500)
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=50
    )


class Uploaded(BaseModel):
    video_id: str = Field(description="The id the manifest will have (SHA-256 prefix).")
    status: str
    size_bytes: int
    source: str = Field(description="Where the upload was stored: the run's source.")
    run: StartedRun


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
        request.app.state.metrics.webhook_rejects.labels(request.url.path).inc()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(e)) from None
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
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong notification token")
    return await signed_body(request, settings, signature, timestamp)


NotificationBody = Annotated[bytes, Depends(notification_body)]


def api_key(
    settings: Settings, key: Annotated[str | None, Header(alias="X-API-Key")] = None
) -> None:
    """401 unless `X-API-Key` is one of VIDP_GATEWAY_API_KEYS."""
    if not settings.api_keys:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "uploads need VIDP_GATEWAY_API_KEYS"
        )
    if key is None or not any(
        hmac.compare_digest(key.encode(), k.get_secret_value().encode()) for k in settings.api_keys
    ):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or unknown X-API-Key")


Authorized = Depends(api_key)


def _entry(video_id: str) -> catalog.Video:
    video = catalog.find(video_id)
    if video is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no video {video_id} in the catalog")
    return video


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the body is not JSON") from None


async def _start(
    request: Request, settings: GatewaySettings, parameters: dict[str, Any], key: str | None
) -> StartedRun:
    try:
        run = await start_run(settings.deployment, parameters, key)
    except DeploymentMissing as e:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(e)) from None
    except InvalidParameters as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(e)) from None
    request.app.state.metrics.runs_triggered.labels(request.url.path).inc()
    return run


_SIGNED: dict[int | str, dict[str, Any]] = {
    401: {"description": f"missing, wrong or stale {SIGNATURE_HEADER} / {TIMESTAMP_HEADER}"}
}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI request body of an endpoint that reads its raw body (to check a signature)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_ENDED_UNFINISHED = ("Crashed", "Cancelled", "Failed", "TimedOut")
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such video"}}
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "title": {"type": "string"},
                        "tags": {"type": "string", "description": "comma-separated"},
                    },
                }
            }
        },
    }
}
VideoId = Annotated[str, Path_(pattern="^[0-9a-f]{16}$", description="The manifest's video_id.")]


def _video_uri(manifest: dict[str, Any], rendition: str | None) -> str:
    if rendition is None:
        return manifest["final_video"]["uri"]
    for r in manifest["renditions"]:
        if r["label"] == rendition:
            return r["uri"]
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no rendition {rendition!r}")


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

    @app.post(
        "/webhooks/s3",
        status_code=status.HTTP_202_ACCEPTED,
        responses=_SIGNED,
        openapi_extra=_json_body({"type": "object", "properties": {"Records": {"type": "array"}}}),
    )
    async def s3_notification(
        request: Request, body: NotificationBody, settings: Settings
    ) -> RunsStarted:
        """An S3 or MinIO bucket notification: one `process-video` run per created video.

        Idempotent: the same object version (bucket, key, ETag) always gives the same run.
        """
        try:
            objects = created_objects(_json(body))
        except NotNotification as e:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(e)) from None
        videos, ignored = plan_sweep(objects, get_settings().output)
        runs = [
            await _start(request, settings, {"source": v.uri}, v.idempotency_key) for v in videos
        ]
        return RunsStarted(runs=runs, ignored=ignored)

    @app.post(
        "/webhooks/run",
        status_code=status.HTTP_202_ACCEPTED,
        responses=_SIGNED,
        openapi_extra=_json_body(RunRequest.model_json_schema()),
    )
    async def run_request(
        request: Request,
        body: SignedBody,
        settings: Settings,
        idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
    ) -> RunsStarted:
        """Start one run for `source`; the same `Idempotency-Key` always gives the same run."""
        try:
            asked = RunRequest.model_validate(_json(body))
        except ValueError as e:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(e)) from None
        parameters = {**asked.parameters, "source": asked.source}
        return RunsStarted(runs=[await _start(request, settings, parameters, idempotency_key)])

    @app.post(
        "/videos",
        status_code=status.HTTP_202_ACCEPTED,
        dependencies=[Authorized],
        responses={
            401: {"description": "missing or unknown X-API-Key"},
            413: {"description": "larger than VIDP_GATEWAY_MAX_UPLOAD_BYTES"},
            415: {"description": "not a video"},
        },
        openapi_extra=_UPLOAD_BODY,
    )
    async def upload(request: Request, settings: Settings) -> Uploaded:
        """Upload a video (multipart field `file`, optional `title` and comma-separated `tags`);
        it is streamed to VIDP_GATEWAY_UPLOADS, then a run starts."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_upload_bytes + 2**20:
            raise HTTPException(
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                f"the upload is larger than {settings.max_upload_bytes} bytes",
            )
        try:
            received = await receive_upload(
                request.headers.get("content-type", ""),
                request.stream(),
                settings.uploads,
                settings.max_upload_bytes,
            )
        except UploadTooLarge as e:
            raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, str(e)) from None
        except NotAVideo as e:
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(e)) from None
        except BadUpload as e:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(e)) from None
        run = await _start(request, settings, {"source": received.uri}, received.idempotency_key)
        tags = [t.strip() for t in received.fields.get("tags", "").split(",") if t.strip()]
        await anyio.to_thread.run_sync(
            lambda: catalog.record_queued(
                received.video_id,
                received.filename,
                received.uri,
                run.flow_run_id,
                received.fields.get("title"),
                tags,
            )
        )
        return Uploaded(
            video_id=received.video_id,
            status="queued",
            size_bytes=received.size_bytes,
            source=received.uri,
            run=run,
        )

    @app.get("/videos", dependencies=[Authorized])
    def list_videos(
        status_: Annotated[
            Literal["queued", "running", "completed", "failed"] | None, Query(alias="status")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> VideoPage:
        """The catalog, most recently updated first."""
        rows, total = catalog.page(status_, limit, offset)
        return VideoPage(
            items=[VideoSummary.model_validate(r) for r in rows],
            total=total,
            limit=limit,
            offset=offset,
        )

    @app.get("/videos/{video_id}", dependencies=[Authorized], responses=_NOT_FOUND)
    def get_video(video_id: VideoId) -> VideoDetail:
        """The manifest once the video is done; the run's state and progress while it works;
        the reason when it failed."""
        detail = VideoDetail.model_validate(_entry(video_id))
        if detail.flow_run_id and detail.status in ("queued", "running"):
            detail.run = run_progress(detail.flow_run_id)
            if detail.run and detail.run.state in _ENDED_UNFINISHED:
                # The run ended before the flow could record it, e.g. its worker crashed.
                detail.status = "failed"
                detail.error = f"run {detail.run.state.lower()}: {detail.run.message}"
        return detail

    @app.get(
        "/videos/{video_id}/stream",
        dependencies=[Authorized],
        responses={
            **_NOT_FOUND,
            206: {"description": "the requested byte range (local storage)"},
            307: {"description": "redirect to a presigned URL (S3 storage)"},
        },
        response_class=FileResponse,
    )
    def stream(
        video_id: VideoId,
        rendition: Annotated[
            str | None, Query(description="A rendition label (e.g. 360p); default the final video.")
        ] = None,
    ) -> Response:
        """The final video (or a rendition), with HTTP Range support."""
        video = _entry(video_id)
        if video.status != "completed" or not video.manifest:
            raise HTTPException(status.HTTP_409_CONFLICT, f"video {video_id} is {video.status}")
        uri = _video_uri(video.manifest, rendition)
        if uri.startswith("s3://"):
            link = presign(uri, get_settings().presign_expiry_s)
            return RedirectResponse(link, status.HTTP_307_TEMPORARY_REDIRECT)
        path = Path(uri.removeprefix("file://"))
        if not path.is_file():
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{uri} is gone from storage")
        return FileResponse(path, media_type="video/mp4")

    @app.patch("/videos/{video_id}", dependencies=[Authorized], responses=_NOT_FOUND)
    def edit_video(video_id: VideoId, edit: VideoEdit) -> VideoSummary:
        """Change the title or tags."""
        video = catalog.edit(video_id, edit.title, edit.tags)
        if video is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no video {video_id} in the catalog")
        return VideoSummary.model_validate(video)

    @app.delete(
        "/videos/{video_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        dependencies=[Authorized],
        responses={**_NOT_FOUND, 409: {"description": "the video is being processed"}},
    )
    def delete_video(
        video_id: VideoId,
        delete_source: Annotated[
            bool, Query(description="Also delete the upload the gateway stored.")
        ] = False,
    ) -> Response:
        """Remove the video's outputs and its catalog entry; the source stays unless asked."""
        video = _entry(video_id)
        if video.status in ("queued", "running"):
            raise HTTPException(status.HTTP_409_CONFLICT, f"video {video_id} is {video.status}")
        if delete_source and video.upload_uri is None:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                "the source was not uploaded through the gateway; delete it where it lives",
            )
        if video.manifest_uri:
            unpublish(video.manifest_uri)
        if delete_source and video.upload_uri:
            delete_upload(video.upload_uri)
        catalog.remove(video_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return app
