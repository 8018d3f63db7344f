"""Speech tasks: audio once, language from speech windows, transcript with word times."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from tasks.policies import CACHED, MODEL_TAG
from vidp.audio import extract_audio, load_audio
from vidp.ingest import VideoRef
from vidp.settings import get_settings
from vidp.speech import LanguageResult, Transcript, identify_language, transcribe
from vidp.whisper_model import load_whisper

__all__ = ["audio_track", "spoken_language", "transcript", "transcript_path"]


@task(cache_policy=CACHED)
def audio_track(video: VideoRef) -> Path:
    """16 kHz mono WAV, extracted once for every speech model."""
    return extract_audio(video.path, video.work_dir / "audio-16k.wav")


@task(cache_policy=CACHED, tags=[MODEL_TAG])
def spoken_language(audio: Path, forced: str, backend: str, whisper_model: str) -> LanguageResult:
    """The language from several windows of speech, or `forced` when it is not 'auto'."""
    if forced != "auto":
        return LanguageResult(code=forced, probability=None, method="forced")
    whisper = load_whisper(whisper_model) if backend == "whisper" else None
    return identify_language(
        load_audio(audio),
        backend=backend,
        whisper=whisper,
        speechbrain_source=get_settings().speechbrain_model,
    )


@task(cache_policy=CACHED, tags=[MODEL_TAG])
def transcript(
    video: VideoRef, audio: Path, language: LanguageResult, whisper_model: str
) -> Path | None:
    """Transcribe to a JSON file with segment and word times; None when nothing was said."""
    if language.code is None:
        return None
    result = transcribe(load_audio(audio), load_whisper(whisper_model), language.code)
    return result.save(transcript_path(video, result, whisper_model)) if result.segments else None


def transcript_path(video: VideoRef, transcript: Transcript, whisper_model: str) -> Path:
    """Where a transcript of `video` lives in its work folder: named by language and model."""
    return video.work_dir / f"transcript-{transcript.language}-{_slug(whisper_model)}.json"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in Path(name).name)
