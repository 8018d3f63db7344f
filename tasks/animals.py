"""Animal detection tasks: sample frames once, detect in batches, summarise per label."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from tasks.policies import CACHED, MODEL_TAG
from vidp.detect import AnimalSummary, Detection, detect_animals, save_best_crops, summarize_animals
from vidp.frames import sample_frames
from vidp.ingest import VideoRef

__all__ = ["sample_video_frames", "detect_batch", "summarize"]


@task(cache_policy=CACHED)
def sample_video_frames(video: VideoRef, fps: float) -> list[Path]:
    """Decode once, keep `fps` frames per second, scaled for the detector."""
    return sample_frames(video.path, video.work_dir / f"frames-{fps:g}fps", fps)


@task(cache_policy=CACHED, tags=[MODEL_TAG])
def detect_batch(
    frames: list[Path], times: list[float], weights: str, min_confidence: float
) -> list[Detection]:
    """Run YOLO on one batch of frames."""
    return detect_animals(frames, times, weights, min_confidence)


@task(cache_policy=CACHED)
def summarize(video: VideoRef, detections: list[Detection]) -> list[AnimalSummary]:
    """Per-label counts, times and confidence, with an image of the best detection."""
    summaries = summarize_animals(detections)
    return save_best_crops(detections, summaries, video.work_dir / "animals")
