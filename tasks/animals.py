"""Animal detection tasks: detect in batches of sampled frames, summarise per label."""

from __future__ import annotations

from prefect import task, unmapped
from pydantic import BaseModel

from vidp.detect import AnimalSummary, Detection, detect_animals, save_best_crops, summarize_animals
from vidp.encode import encode_pass, frame_time
from vidp.ingest import VideoRef
from vidp.options import ProcessOptions
from vidp.outputs import frame_sample
from vidp.settings import get_settings
from vidp.tasks.policies import CACHED, CACHED_FILES, ON_MODEL_RUNTIME, STEP_TIMEOUT, model_slot
from vidp.workfiles import WorkFile, keep

__all__ = ["Animals", "sample_video_frames", "detect_batch", "detect_frames", "summarize"]


class Animals(BaseModel):
    summaries: list[AnimalSummary]
    crops: dict[str, WorkFile]  # label -> image of its best detection


@task(cache_policy=CACHED_FILES, **STEP_TIMEOUT)
def sample_video_frames(video: VideoRef, fps: float) -> list[WorkFile]:
    """Only the detector's frames from a decode of the source, where no encode is needed
    (`analyze-gpu`); named as `encode_media`'s are, by `frame_sample`."""
    sample = frame_sample(video.work_dir, fps)
    return keep(video, encode_pass(video.path, None, frames=sample).frames)


@task(cache_policy=CACHED + ON_MODEL_RUNTIME, **STEP_TIMEOUT)
def detect_batch(
    frames: list[WorkFile], times: list[float], weights: str, min_confidence: float
) -> list[Detection]:
    """Run YOLO on one batch of frames."""
    paths = [f.local() for f in frames]
    with model_slot():
        return detect_animals(paths, times, weights, min_confidence)


@task(cache_policy=CACHED_FILES, **STEP_TIMEOUT)
def summarize(video: VideoRef, frames: list[WorkFile], detections: list[Detection]) -> Animals:
    """Per-label counts, times and confidence, with an image of the best detection."""
    summaries = summarize_animals(detections)
    used = {d.frame for d in detections}
    crops = save_best_crops(
        detections, summaries, [f.local() for f in frames if f.path.name in used], video.work_dir
    )
    return Animals(
        summaries=summaries, crops=dict(zip(crops, keep(video, list(crops.values())), strict=True))
    )


def detect_frames(frames: list[WorkFile], options: ProcessOptions, weights: str) -> list[Detection]:
    """Detect in batches of frames, one mapped task each."""
    size = get_settings().detect_batch_size
    times = [frame_time(i, options.sample_fps) for i in range(len(frames))]
    starts = range(0, len(frames), size)
    batches = detect_batch.map(
        [frames[i : i + size] for i in starts],
        [times[i : i + size] for i in starts],
        unmapped(weights),
        unmapped(options.min_confidence),
    )
    return [d for found in batches.result() for d in found]
