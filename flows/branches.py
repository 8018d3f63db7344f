"""Parts of a run that `process-video` and `analyze-gpu` both submit: speech and detection."""

from __future__ import annotations

from typing import Any, TypeVar

from prefect import unmapped
from prefect.futures import PrefectFuture

from vidp.detect import Detection
from vidp.encode import frame_time
from vidp.ingest import VideoRef
from vidp.options import ProcessOptions
from vidp.probe import MediaInfo
from vidp.settings import get_settings
from vidp.speech import LanguageResult
from vidp.tasks.animals import detect_batch
from vidp.tasks.speech import Heard, audio_track, speechbrain_language, transcript
from vidp.workfiles import WorkFile

__all__ = ["submit_speech", "detect_frames", "still_working", "value"]

T = TypeVar("T")


def still_working(future: PrefectFuture[Any], within_s: float = 1.0) -> bool:
    """Whether `future` is still unfinished after `within_s`: a task served from the cache is
    done by then, real work is not (so loading models for it is not wasted on a re-run)."""
    future.wait(timeout=within_s)
    return not future.state.is_final()


def value(item: PrefectFuture[T] | T) -> T:
    """A future's result, or the value itself."""
    return item.result() if isinstance(item, PrefectFuture) else item


def submit_speech(
    video: VideoRef,
    media: MediaInfo,
    options: ProcessOptions,
    whisper: str,
) -> PrefectFuture[Heard] | Heard:
    """Submit audio -> transcript, in which Whisper identifies the language unless it is given
    or speechbrain identifies it first; a video without audio has nothing to hear."""
    if not media.has_audio:
        return Heard(
            language=LanguageResult(code=None, probability=None, method="none"), transcript=None
        )
    audio = audio_track.submit(video)
    language: LanguageResult | PrefectFuture[LanguageResult] | None = None
    if options.language != "auto":
        language = LanguageResult(code=options.language, probability=None, method="forced")
    elif options.language_backend == "speechbrain":
        language = speechbrain_language.submit(audio)
    return transcript.submit(video, audio, language, whisper)


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
