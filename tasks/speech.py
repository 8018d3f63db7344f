"""Speech tasks: audio once, then the transcript with word times and the language it is in."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.futures import PrefectFuture
from pydantic import BaseModel

from vidp.audio import SAMPLE_RATE, extract_audio, load_audio
from vidp.ingest import VideoRef
from vidp.options import ProcessOptions
from vidp.probe import MediaInfo
from vidp.settings import get_settings
from vidp.speech import LanguageResult, Transcript, identify_language, transcribe
from vidp.tasks.policies import (
    CACHED,
    CACHED_FILES,
    CACHED_ON_MACHINE,
    ON_MODEL_RUNTIME,
    STEP_TIMEOUT,
    model_slot,
)
from vidp.whisper_model import KEEP_LOADED_S, load_whisper, unload_whisper
from vidp.workfiles import WorkFile, keep

__all__ = [
    "Heard",
    "audio_track",
    "speechbrain_language",
    "transcript",
    "submit_speech",
    "keep_transcript",
]


class Heard(BaseModel):
    """What was said: the language, and the transcript file (None when nothing was said)."""

    language: LanguageResult
    transcript: WorkFile | None


@task(cache_policy=CACHED_ON_MACHINE, **STEP_TIMEOUT)
def audio_track(video: VideoRef) -> WorkFile:
    """16 kHz mono WAV, extracted once for every speech model."""
    return WorkFile.at(video, extract_audio(video.path, video.work_dir / "audio-16k.wav"))


@task(cache_policy=CACHED + ON_MODEL_RUNTIME, **STEP_TIMEOUT)
def speechbrain_language(audio: WorkFile) -> LanguageResult:
    """The language from several windows of speech, by speechbrain's VoxLingua107 model."""
    samples = load_audio(audio.local())
    with model_slot():
        return identify_language(samples, get_settings().speechbrain_model)


@task(cache_policy=CACHED_FILES + ON_MODEL_RUNTIME, **STEP_TIMEOUT)
def transcript(
    video: VideoRef, audio: WorkFile, language: LanguageResult | None, whisper_model: str
) -> Heard:
    """Transcribe to a JSON file with segment and word times, and the language of every stretch
    of speech. Without a `language`, Whisper identifies each; one known to hold no speech is
    not transcribed."""
    if language is not None and language.code is None:
        return Heard(language=language, transcript=None)
    samples = load_audio(audio.local())
    with model_slot():
        heard, text = transcribe(samples, load_whisper(whisper_model), language)
    if len(samples) > KEEP_LOADED_S * SAMPLE_RATE:
        unload_whisper()
    kept = keep_transcript(video, text, whisper_model, folder=audio.path.parent)
    return Heard(language=heard, transcript=kept)


def submit_speech(
    video: VideoRef,
    media: MediaInfo,
    options: ProcessOptions,
    whisper: str,
    audio: PrefectFuture[WorkFile] | None = None,
) -> PrefectFuture[Heard] | Heard:
    """Submit audio -> transcript, in which Whisper identifies the language unless it is given
    or speechbrain identifies it first; a video without audio has nothing to hear. `audio`:
    the part of it to hear (a segment's), else the whole track."""
    if not media.has_audio:
        return Heard(
            language=LanguageResult(code=None, probability=None, method="none"), transcript=None
        )
    audio = audio or audio_track.submit(video)
    language: LanguageResult | PrefectFuture[LanguageResult] | None = None
    if options.language != "auto":
        language = LanguageResult(code=options.language, probability=None, method="forced")
    elif options.language_backend == "speechbrain":
        language = speechbrain_language.submit(audio)
    return transcript.submit(video, audio, language, whisper)


def keep_transcript(
    video: VideoRef, text: Transcript, whisper_model: str, folder: Path | None = None
) -> WorkFile | None:
    """`text` as a JSON work file named by language and model, in `folder` (where its audio is:
    a segment's own) or the video's work folder; None when nothing was said (it is kept when
    speech was heard but no word came of it: the manifest says so)."""
    if not text.segments and not text.untranscribed:
        return None
    folder = folder or video.work_dir
    folder.mkdir(parents=True, exist_ok=True)  # a segment's, where the GPU pool heard it
    path = folder / f"transcript-{text.language}-{_slug(whisper_model)}.json"
    return keep(video, [text.save(path)])[0]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in Path(name).name)
