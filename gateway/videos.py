"""Uploads and the catalog: list, inspect, stream, edit and delete videos."""

from __future__ import annotations

import hmac
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi import Path as Path_
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from vidp import catalog, storage
from vidp.gateway.catalog import Reader
from vidp.gateway.dependencies import (
    Catalog,
    Runs,
    Settings,
    deployment_ready,
    prefect_answers,
    start,
)
from vidp.gateway.runs import PrefectRuns, RunProgress, StartedRun
from vidp.gateway.uploads import (
    BadUpload,
    NotAVideo,
    Received,
    UploadTooLarge,
    delete_upload,
    receive_upload,
    still_stored,
)
from vidp.manifest import Manifest
from vidp.publish import unpublish
from vidp.settings import get_settings

__all__ = ["router"]

router = APIRouter(prefix="/videos", tags=["videos"])


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
    manifest: Manifest | None = Field(description="The published manifest, once completed.")
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
    duplicate: bool = Field(
        False,
        description="These bytes were uploaded before: nothing new was stored or started; "
        "`source` and `run` are the first upload's (answered 200, not 202).",
    )


async def api_key(
    settings: Settings, key: Annotated[str | None, Header(alias="X-API-Key")] = None
) -> None:
    """401 unless `X-API-Key` is one of VIDP_GATEWAY_API_KEYS."""
    if not settings.api_keys:
        raise HTTPException(HTTPStatus.SERVICE_UNAVAILABLE, "uploads need VIDP_GATEWAY_API_KEYS")
    if key is None or not any(
        hmac.compare_digest(key.encode(), k.get_secret_value().encode()) for k in settings.api_keys
    ):
        raise HTTPException(HTTPStatus.UNAUTHORIZED, "missing or unknown X-API-Key")


Authorized = Depends(api_key)


async def _entry(reads: Reader, video_id: str) -> catalog.Video:
    video = await reads.find(video_id)
    if video is None:
        raise HTTPException(HTTPStatus.NOT_FOUND, f"no video {video_id} in the catalog")
    return video


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


def _video_uri(manifest: Manifest, rendition: str | None) -> str:
    if rendition is None:
        return manifest.final_video.uri
    for r in manifest.renditions:
        if r.label == rendition:
            return r.uri
    raise HTTPException(HTTPStatus.NOT_FOUND, f"no rendition {rendition!r}")


@router.post(
    "",
    status_code=HTTPStatus.ACCEPTED,
    # The deployment is checked before the upload is read, so no upload waits for nothing.
    dependencies=[Authorized, Depends(deployment_ready)],
    responses={
        200: {"description": "the same bytes were uploaded before: the first upload's run"},
        401: {"description": "missing or unknown X-API-Key"},
        413: {"description": "larger than VIDP_GATEWAY_MAX_UPLOAD_BYTES"},
        415: {"description": "not a video"},
        503: {"description": "the deployment runs start from is not registered"},
    },
    openapi_extra=_UPLOAD_BODY,
)
async def upload(
    request: Request, response: Response, settings: Settings, reads: Catalog, runs: Runs
) -> Uploaded:
    """Upload a video (multipart field `file`, optional `title` and comma-separated `tags`);
    it is streamed to VIDP_GATEWAY_UPLOADS, then a run starts. The same bytes again, while the
    first upload is stored and its run has not failed, store nothing and start nothing: 200 with
    the first upload's source and run."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_upload_bytes + 2**20:
        raise HTTPException(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
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
        raise HTTPException(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, str(e)) from None
    except NotAVideo as e:
        raise HTTPException(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, str(e)) from None
    except BadUpload as e:
        raise HTTPException(HTTPStatus.BAD_REQUEST, str(e)) from None
    # Uploads of the same bytes finish one at a time, so that the later one finds the first's run.
    # One lock per stripe of video ids: bounded, and unrelated uploads rarely share one.
    locks: list[anyio.Lock] = request.app.state.upload_locks
    async with locks[int(received.video_id, 16) % len(locks)]:
        first = await _first_upload(reads, runs, received)
        if first is not None:
            await anyio.to_thread.run_sync(delete_upload, received.uri)
            response.status_code = HTTPStatus.OK
            return first
        try:
            run = await start(
                request, settings, runs, {"source": received.uri}, received.idempotency_key
            )
        except HTTPException:  # no run will read it: keep nothing
            await anyio.to_thread.run_sync(delete_upload, received.uri)
            raise
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


async def _first_upload(reads: Reader, runs: PrefectRuns, received: Received) -> Uploaded | None:
    """The answer to the first upload of these bytes, when it stands: stored by the gateway and
    still there, its run known and not failed (a failed video is uploaded again to retry it)."""
    entry = await reads.find(received.video_id)
    first = entry.upload_uri if entry is not None else None
    if entry is None or first is None or entry.status == "failed" or not entry.flow_run_id:
        return None
    if first != entry.source_uri or first == received.uri:
        return None
    if not await anyio.to_thread.run_sync(still_stored, first):
        return None
    async with prefect_answers():
        run = await runs.existing(entry.flow_run_id, first)
    if run is None:
        return None
    return Uploaded(
        video_id=received.video_id,
        status=entry.status,
        size_bytes=received.size_bytes,
        source=first,
        run=run,
        duplicate=True,
    )


@router.get("", dependencies=[Authorized])
async def list_videos(
    reads: Catalog,
    status_: Annotated[catalog.Status | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> VideoPage:
    """The catalog, most recently updated first."""
    rows, total = await reads.page(status_, limit, offset)
    return VideoPage(
        items=[VideoSummary.model_validate(dict(r)) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/{video_id}", dependencies=[Authorized], responses=_NOT_FOUND)
async def get_video(video_id: VideoId, reads: Catalog, runs: Runs) -> VideoDetail:
    """The manifest once the video is done; the run's state and progress while it works;
    the reason when it failed."""
    detail = VideoDetail.model_validate(await _entry(reads, video_id))
    if detail.flow_run_id and detail.status in ("queued", "running"):
        async with prefect_answers():
            detail.run = await runs.progress(detail.flow_run_id)
        if detail.run and detail.run.state in _ENDED_UNFINISHED:
            # The run ended before its flow could say so (its worker crashed, say): record it, so
            # the list agrees from now on.
            detail.status = "failed"
            detail.error = catalog.ended_unfinished(detail.run.state, detail.run.message)
            await anyio.to_thread.run_sync(catalog.record_failed, video_id, detail.error)
    return detail


@router.get(
    "/{video_id}/stream",
    dependencies=[Authorized],
    responses={
        **_NOT_FOUND,
        206: {"description": "the requested byte range (local storage)"},
        307: {"description": "redirect to a presigned URL (S3 storage)"},
    },
    response_class=FileResponse,
)
async def stream(
    video_id: VideoId,
    reads: Catalog,
    rendition: Annotated[
        str | None, Query(description="A rendition label (e.g. 360p); default the final video.")
    ] = None,
) -> Response:
    """The final video (or a rendition), with HTTP Range support."""
    video = await _entry(reads, video_id)
    if video.status != "completed" or not video.manifest:
        raise HTTPException(HTTPStatus.CONFLICT, f"video {video_id} is {video.status}")
    uri = _video_uri(Manifest.model_validate(video.manifest), rendition)
    store = storage.at(uri)
    path = store.local_path(uri)
    if path is None:  # object storage serves the bytes itself
        link = await anyio.to_thread.run_sync(store.link, uri, get_settings().presign_expiry_s)
        if link is not None:
            return RedirectResponse(link, HTTPStatus.TEMPORARY_REDIRECT)
    if path is None or not path.is_file():
        raise HTTPException(HTTPStatus.NOT_FOUND, f"{uri} is gone from storage")
    return FileResponse(path, media_type="video/mp4")


@router.patch("/{video_id}", dependencies=[Authorized], responses=_NOT_FOUND)
def edit_video(video_id: VideoId, edit: VideoEdit) -> VideoSummary:
    """Change the title or tags."""
    video = catalog.edit(video_id, edit.title, edit.tags)
    if video is None:
        raise HTTPException(HTTPStatus.NOT_FOUND, f"no video {video_id} in the catalog")
    return VideoSummary.model_validate(video)


@router.delete(
    "/{video_id}",
    status_code=HTTPStatus.NO_CONTENT,
    dependencies=[Authorized],
    responses={**_NOT_FOUND, 409: {"description": "the video is being processed"}},
)
async def delete_video(
    video_id: VideoId,
    reads: Catalog,
    delete_source: Annotated[
        bool, Query(description="Also delete the upload the gateway stored.")
    ] = False,
) -> Response:
    """Remove the video's outputs and its catalog entry; the source stays unless asked."""
    video = await _entry(reads, video_id)
    if video.status in ("queued", "running"):
        raise HTTPException(HTTPStatus.CONFLICT, f"video {video_id} is {video.status}")
    if delete_source and video.upload_uri is None:
        raise HTTPException(
            HTTPStatus.CONFLICT,
            "the source was not uploaded through the gateway; delete it where it lives",
        )
    await anyio.to_thread.run_sync(_delete, video, delete_source)
    return Response(status_code=HTTPStatus.NO_CONTENT)


def _delete(video: catalog.Video, delete_source: bool) -> None:
    if video.manifest_uri:
        unpublish(video.manifest_uri)
    if delete_source and video.upload_uri:
        delete_upload(video.upload_uri)
    catalog.remove(video.video_id)
