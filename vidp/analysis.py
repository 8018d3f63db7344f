"""The model work of a run, described once for the flows that do it (`process-video` or
`process-segment` on its own machine, `analyze-gpu` on a GPU pool): the models it runs, the
part of a video it is given, and what it produces as data."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from vidp.detect import Detection
from vidp.ingest import VideoRef
from vidp.options import ProcessOptions
from vidp.probe import MediaInfo
from vidp.segments import Segment
from vidp.settings import Settings
from vidp.speech import LanguageResult, Transcript

__all__ = ["AnalysisModels", "Analysis", "VideoPart"]


class AnalysisModels(BaseModel):
    """The detector and the Whisper model a run uses: the options' choice, else the machine's
    default, resolved on the machine that runs them (a local file as an absolute path)."""

    detector_weights: str
    whisper_model: str

    @classmethod
    def resolve(cls, options: ProcessOptions, settings: Settings) -> AnalysisModels:
        return cls(
            detector_weights=_resolve(options.detector_weights, settings.detector_weights),
            whisper_model=_resolve(options.whisper_model, settings.whisper_model),
        )


class VideoPart(BaseModel):
    """One segment of a stored video, whose model work a `process-segment` run sends to
    `analyze-gpu`: only the segment is read, and every time is from its start."""

    video: VideoRef
    segment: Segment
    media: MediaInfo  # the whole video's


class Analysis(BaseModel):
    """What `analyze-gpu` returns to the run that asked (`process-video`, or `process-segment`
    for its part, its times then from the part's start). Detections name their frames by file
    name, which is the same on the machine that asked."""

    detections: list[Detection]
    language: LanguageResult
    transcript: Transcript | None


def _resolve(name: str, default: str) -> str:
    """The model `name` names, else `default`; a local file as an absolute path."""
    path = Path(name or default).expanduser()
    return str(path.resolve()) if path.exists() else name or default
