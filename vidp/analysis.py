"""What the model work produces, as data: what `analyze-gpu` returns to `process-video`."""

from __future__ import annotations

from pydantic import BaseModel

from vidp.detect import Detection
from vidp.speech import LanguageResult, Transcript

__all__ = ["Analysis"]


class Analysis(BaseModel):
    """Detections name their frames by file name, which is the same on the machine that asked."""

    detections: list[Detection]
    language: LanguageResult
    transcript: Transcript | None
