"""Per-video processing options: the flow's parameters, the CLI's options and the UI's form."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "Resolution",
    "SubtitleMode",
    "Preset",
    "ProcessOptions",
    "RESOLUTION_HEIGHTS",
    "AUTO_SEGMENT_S",
    "AUTO_SEGMENT_FROM_S",
]

Resolution = Literal["360p", "480p", "720p", "1080p"]
SubtitleMode = Literal["burn", "soft", "none"]
Preset = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]
RESOLUTION_HEIGHTS: dict[str, int] = {"360p": 360, "480p": 480, "720p": 720, "1080p": 1080}
# Automatic segments: each costs a run's start on a worker (its process, imports and models:
# 5-8 CPU s on 2 cores) against about 2 CPU s of work per second of 1080p video.
AUTO_SEGMENT_S = 120.0
AUTO_SEGMENT_FROM_S = 300.0
MIN_SEGMENT_S = 10.0


class ProcessOptions(BaseModel):
    """How to process one video: the flow's `options` parameter, the deployment's form in the
    UI and `vidp process`'s options, all from these fields.

    The defaults are constants, whatever the environment. What a machine decides (the device and
    precision, the models used when these leave them empty) is in `vidp.settings`; the flow
    resolves it and hands it to the tasks, so it is part of their cache keys.
    """

    model_config = ConfigDict(extra="forbid")

    resolutions: list[Resolution] = Field(
        default_factory=lambda: ["480p"],  # type: ignore[arg-type]  # a Resolution
        min_length=1,
        description="Downscaled renditions to make; a smaller source is never upscaled.",
    )
    crf: int = Field(23, ge=0, le=51, description="x264 constant rate factor (lower is better).")
    preset: Preset = Field("medium", description="x264 preset (slower is smaller).")
    subtitles: SubtitleMode = Field(
        "burn", description="Subtitles in the final video: burned in, a soft track, or none."
    )
    language: str = Field(
        "auto", description="Spoken language: 'auto' to identify it, or an ISO 639-1 code."
    )
    language_backend: Literal["whisper", "speechbrain"] = Field(
        "whisper", description="Language identification backend (speechbrain is an extra)."
    )
    sample_fps: float = Field(
        1.0, gt=0, le=30, description="Frames per second sent to the detector."
    )
    min_confidence: float = Field(0.5, ge=0, le=1, description="Lowest detection confidence kept.")
    thumbnails: int = Field(4, ge=0, le=20, description="Evenly spaced thumbnails to make.")
    detector_weights: str = Field(
        "",
        description="Ultralytics YOLO weights: a name (downloaded) or a path; empty: the "
        "worker's VIDP_DETECTOR_WEIGHTS (default yolo11n.pt).",
    )
    whisper_model: str = Field(
        "",
        description="faster-whisper model: a size name, a hub id or a local directory; empty: "
        "the worker's VIDP_WHISPER_MODEL (default base).",
    )
    segment_s: float | None = Field(
        None,
        ge=0,
        description="Spread the video over the pool's workers in segments of about this many "
        "seconds (process-segment runs, joined after); 0: never; empty: automatic (segments of "
        f"{AUTO_SEGMENT_S:g} s for videos of {AUTO_SEGMENT_FROM_S:g} s and more, where a "
        "process-segment deployment exists).",
    )

    @field_validator("resolutions")
    @classmethod
    def _unique_sorted(cls, value: list[str]) -> list[str]:
        return sorted(set(value), key=lambda label: RESOLUTION_HEIGHTS[label])

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        value = value.strip().lower()
        if value != "auto" and value not in _LANGUAGE_CODES:
            raise ValueError(
                f"unknown language {value!r}: use 'auto' or a code Whisper knows, such as 'en' or 'fr'"
            )
        return value

    @field_validator("segment_s")
    @classmethod
    def _long_enough(cls, value: float | None) -> float | None:
        if value and value < MIN_SEGMENT_S:
            raise ValueError(f"segments last at least {MIN_SEGMENT_S:g} s (0: no segments)")
        return value

    def segment_length(self, duration_s: float) -> float | None:
        """How long a video's segments are, where it is long enough to spread over workers; None
        where it is not (or `segment_s` is 0)."""
        length = self.segment_s
        if length is None:
            length = AUTO_SEGMENT_S if duration_s >= AUTO_SEGMENT_FROM_S else 0
        return length if length and duration_s >= 1.5 * length else None

    @property
    def final_resolution(self) -> str:
        """The final video is made at the largest requested resolution."""
        return self.resolutions[-1]
