"""Tasks that bring a video in and look at it."""

from __future__ import annotations

from prefect import task

from vidp.errors import RejectedInput
from vidp.ingest import StagedVideo, VideoRef, ingest
from vidp.probe import MediaInfo, probe
from vidp.settings import get_settings
from vidp.tasks.policies import IO_RETRIES, STEP_TIMEOUT, retry_unless_rejected

__all__ = ["ingest_video", "probe_video"]


@task(**IO_RETRIES, retry_condition_fn=retry_unless_rejected, **STEP_TIMEOUT)
def ingest_video(source: str) -> StagedVideo:
    """Copy the source into the work directory and hash it."""
    return ingest(source)


@task(**STEP_TIMEOUT)
def probe_video(video: VideoRef, filename: str) -> MediaInfo:
    """Read duration, size, fps and codecs; reject what cannot be processed."""
    try:
        return probe(video.path, get_settings().max_duration_s, name=filename)
    except RejectedInput:
        video.path.unlink(missing_ok=True)  # keep no copy of a file that will never be processed
        raise
