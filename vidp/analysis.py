"""What the model work produces, as data: what `analyze-gpu` returns to `process-video`."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from vidp.detect import Detection
from vidp.frames import frame_time
from vidp.speech import LanguageResult, Transcript

__all__ = ["Analysis", "on_local_frames"]


class Analysis(BaseModel):
    detections: list[Detection]
    language: LanguageResult
    transcript: Transcript | None


def on_local_frames(detections: list[Detection], frames: list[Path], fps: float) -> list[Detection]:
    """Point detections made on another machine at this machine's frames of the same times."""
    index = {frame_time(i, fps): frame for i, frame in enumerate(frames)}
    last = frames[-1] if frames else None
    return [d.model_copy(update={"frame": index.get(d.time_s, last)}) for d in detections]
