"""Catalog tasks: the video's entry follows its run (the gateway reads it)."""

from __future__ import annotations

from uuid import UUID

from prefect import task
from prefect.client.orchestration import get_client

from vidp import catalog
from vidp.ingest import StagedVideo
from vidp.manifest import Manifest
from vidp.tasks.policies import IO_RETRIES

__all__ = ["catalog_failed", "catalog_published", "catalog_running", "catalog_run_ended"]


@task(**IO_RETRIES)
def catalog_running(staged: StagedVideo, flow_run_id: str | None) -> None:
    """Create or reopen the video's entry, linked to this run."""
    catalog.record_running(staged.ref.video_id, staged.uri, staged.filename, flow_run_id)


@task(**IO_RETRIES)
def catalog_published(manifest: Manifest) -> None:
    """The entry gets the manifest once it is published."""
    catalog.record_published(manifest)


@task(**IO_RETRIES)
def catalog_failed(video_id: str, reason: str) -> None:
    """The entry gets the reason the run failed."""
    catalog.record_failed(video_id, reason)


@task(**IO_RETRIES)
def catalog_run_ended(flow_run_id: str) -> list[str]:
    """The entries of a run that ended unfinished (crashed, cancelled) get its state's message."""
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(flow_run_id)).state
    if state is None or not (state.is_crashed() or state.is_cancelled()):
        return []
    return catalog.record_run_ended(
        flow_run_id, catalog.ended_unfinished(state.name or state.type.value, state.message)
    )
