"""Speech tasks: audio once, language from speech windows, transcript with word times."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from tasks.policies import CACHED, CACHED_FILES, CACHED_ON_MACHINE, MODEL_TAG, model_slot
from vidp.audio import extract_audio, load_audio
from vidp.ingest import VideoRef
from vidp.settings import get_settings
from vidp.speech import LanguageResult, Transcript, identify_language, transcribe
from vidp.whisper_model import load_whisper
from vidp.workfiles import WorkFile, keep

__all__ = ["audio_track", "spoken_language", "transcript", "keep_transcript"]


@task(cache_policy=CACHED_ON_MACHINE)
def audio_track(video: VideoRef) -> WorkFile:
    """16 kHz mono WAV, extracted once for every speech model."""
    return WorkFile.at(video, extract_audio(video.path, video.work_dir / "audio-16k.wav"))


@task(cache_policy=CACHED, tags=[MODEL_TAG])
def spoken_language(
    audio: WorkFile, forced: str, backend: str, whisper_model: str
) -> LanguageResult:
    """The language from several windows of speech, or `forced` when it is not 'auto'."""
    if forced != "auto":
        return LanguageResult(code=forced, probability=None, method="forced")
    samples = load_audio(audio.local())
    with model_slot():
        whisper = load_whisper(whisper_model) if backend == "whisper" else None
        return identify_language(
            samples,
            backend=backend,
            whisper=whisper,
            speechbrain_source=get_settings().speechbrain_model,
        )


@task(cache_policy=CACHED_FILES, tags=[MODEL_TAG])
def transcript(
    video: VideoRef, audio: WorkFile, language: LanguageResult, whisper_model: str
) -> WorkFile | None:
    """Transcribe to a JSON file with segment and word times; None when nothing was said."""
    if language.code is None:
        return None
    samples = load_audio(audio.local())
    with model_slot():
        result = transcribe(samples, load_whisper(whisper_model), language.code)
    return keep_transcript(video, result, whisper_model)


def keep_transcript(video: VideoRef, text: Transcript, whisper_model: str) -> WorkFile | None:
    """`text` as a JSON work file named by language and model; None when nothing was said."""
    if not text.segments:
        return None
    path = video.work_dir / f"transcript-{text.language}-{_slug(whisper_model)}.json"
    return keep(video, [text.save(path)])[0]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in Path(name).name)
