"""Parts of a run that `process-video` and `analyze-gpu` both submit: speech and detection."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from prefect import unmapped
from prefect.futures import PrefectFuture

from tasks.animals import detect_batch
from tasks.speech import audio_track, spoken_language, transcript
from vidp.detect import Detection
from vidp.frames import frame_time
from vidp.ingest import VideoRef
from vidp.options import ProcessOptions
from vidp.probe import MediaInfo
from vidp.settings import get_settings
from vidp.speech import LanguageResult
from vidp.stages import StageClock
from vidp.workfiles import WorkFile

__all__ = ["Speech", "resolve_model", "submit_speech", "detect_frames", "value"]


class Speech(NamedTuple):
    """The speech branch: futures while it runs, or plain values for a video without audio."""

    language: PrefectFuture[LanguageResult] | LanguageResult
    transcript: PrefectFuture[WorkFile | None] | None


def value(item: object) -> object:
    """A future's result, or the value itself."""
    return item.result() if isinstance(item, PrefectFuture) else item


def resolve_model(name: str) -> str:
    """A model setting as given, or as an absolute path when it names a local file."""
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def submit_speech(
    video: VideoRef, media: MediaInfo, options: ProcessOptions, whisper: str, clock: StageClock
) -> Speech:
    """Submit audio -> language -> transcript, when there is audio."""
    if not media.has_audio:
        return Speech(LanguageResult(code=None, probability=None, method="none"), None)
    audio = audio_track.submit(video)
    language = spoken_language.submit(audio, options.language, options.language_backend, whisper)
    text = transcript.submit(video, audio, language, whisper)
    clock.track("audio", audio)
    clock.track("language", language, after=("audio",))
    clock.track("transcription", text, after=("language",))
    return Speech(language, text)


def detect_frames(
    frames: list[WorkFile], options: ProcessOptions, weights: str, clock: StageClock
) -> list[Detection]:
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
    clock.track("detection", *batches, after=("frames",))
    return [d for found in batches.result() for d in found]
