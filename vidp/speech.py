"""Transcription with Whisper, which identifies the language on the speech itself, and the
optional speechbrain language ID on several windows of real speech."""

from __future__ import annotations

import importlib.util
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel

from vidp.atomic import atomic_file
from vidp.audio import SAMPLE_RATE

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

__all__ = [
    "LanguageResult",
    "Word",
    "Segment",
    "Transcript",
    "speech_spans",
    "language_windows",
    "identify_language",
    "transcribe",
    "require_backend",
]

_WINDOW_S = 30.0  # Whisper sees 30 s at a time
_MAX_WINDOWS = 3  # of speech, to identify the language on
# 30 s chunks decoded together. On the CPU, 4 is as fast as faster-whisper's 8 and peaks
# 240 MB lower (4 min of speech, 2 cores); a GPU gains from more.
_BATCH = {"cpu": 4, "cuda": 8}


class LanguageResult(BaseModel):
    code: str | None
    probability: float | None
    method: str  # whisper, speechbrain, forced, or none (no speech)


class Word(BaseModel):
    start: float
    end: float
    word: str
    probability: float


class Segment(BaseModel):
    start: float
    end: float
    text: str
    words: list[Word]


class Transcript(BaseModel):
    language: str | None
    segments: list[Segment]

    @property
    def word_count(self) -> int:
        return sum(len(s.words) for s in self.segments)

    @classmethod
    def load(cls, path: Path) -> Transcript:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))

    def save(self, path: Path) -> Path:
        with atomic_file(path) as draft:
            draft.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return path


def speech_spans(audio: np.ndarray) -> list[tuple[int, int]]:
    """Sample ranges that Silero VAD hears as speech."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    return [(c["start"], c["end"]) for c in get_speech_timestamps(audio, VadOptions())]


def language_windows(audio: np.ndarray, spans: list[tuple[int, int]]) -> list[np.ndarray]:
    """Up to three 30 s windows of speech only, from the start, middle and end of the talking.

    Silence and music are cut out first, so an intro cannot decide the language.
    """
    if not spans:
        return []
    speech = np.concatenate([audio[s:e] for s, e in spans])
    size = int(_WINDOW_S * SAMPLE_RATE)
    count = max(1, -(-len(speech) // size))
    picks = sorted({round(i * (count - 1) / max(1, _MAX_WINDOWS - 1)) for i in range(_MAX_WINDOWS)})
    return [
        speech[i * size : (i + 1) * size] for i in picks if len(speech[i * size : (i + 1) * size])
    ]


def identify_language(audio: np.ndarray, speechbrain_source: str) -> LanguageResult:
    """The speechbrain backend: average the probabilities of the speech windows, weighted by
    their length. (Whisper identifies the language as it transcribes: `transcribe`.)"""
    from vidp.langid_speechbrain import classify

    windows = language_windows(audio, speech_spans(audio))
    if not windows:
        return LanguageResult(code=None, probability=None, method="none")
    totals: dict[str, float] = defaultdict(float)
    weight_sum = 0.0
    for window in windows:
        code, p = classify(speechbrain_source, window)
        totals[code] += p * len(window)
        weight_sum += len(window)
    code, total = max(totals.items(), key=lambda kv: kv[1])
    return LanguageResult(
        code=code, probability=round(min(1.0, total / weight_sum), 4), method="speechbrain"
    )


def transcribe(
    audio: np.ndarray, model: WhisperModel, language: LanguageResult | None
) -> tuple[LanguageResult, Transcript]:
    """Transcribe the speech only (VAD: nothing is invented over silence or music) with word
    timestamps. Without a `language`, Whisper identifies it on the first windows of speech, so
    an intro cannot decide it; no speech at all gives method 'none' and no segments."""
    from faster_whisper import BatchedInferencePipeline

    # Batched: the speech is cut at VAD pauses into chunks of up to 30 s that are decoded
    # together, each on its own (no text carried over), which keeps one bad chunk from seeding
    # the next and is faster on CPU and GPU alike.
    segments, info = BatchedInferencePipeline(model).transcribe(
        audio,
        language=language.code if language else None,
        vad_filter=True,
        word_timestamps=True,
        language_detection_segments=_MAX_WINDOWS,
        batch_size=_BATCH.get(model.model.device, 4),
    )
    if language is None:
        if info.duration_after_vad == 0:
            return LanguageResult(code=None, probability=None, method="none"), Transcript(
                language=None, segments=[]
            )
        language = LanguageResult(
            code=info.language, probability=round(info.language_probability, 4), method="whisper"
        )
    out = []
    for s in segments:
        text = s.text.strip()
        if not text:
            continue
        words = [
            Word(
                start=round(w.start, 3),
                end=round(w.end, 3),
                word=w.word,
                probability=round(w.probability, 4),
            )
            for w in s.words or []
        ]
        out.append(Segment(start=round(s.start, 3), end=round(s.end, 3), text=text, words=words))
    return language, Transcript(language=language.code, segments=out)


def require_backend(backend: str) -> None:
    """Fail before any work when the chosen language-ID backend is not installed."""
    if backend == "speechbrain" and importlib.util.find_spec("speechbrain") is None:
        raise RuntimeError(
            "language_backend 'speechbrain' needs the speechbrain extra: pip install 'vidp[speechbrain]'"
        )
