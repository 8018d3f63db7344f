"""Spoken-language identification on several windows of real speech, and transcription."""

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
_MAX_WINDOWS = 3


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


def _whisper_probabilities(model: WhisperModel, window: np.ndarray) -> list[tuple[str, float]]:
    _, _, probabilities = model.detect_language(audio=window)
    return probabilities


def _speechbrain_probabilities(source: str, window: np.ndarray) -> list[tuple[str, float]]:
    from vidp.langid_speechbrain import classify

    return [classify(source, window)]


def identify_language(
    audio: np.ndarray,
    *,
    backend: str,
    whisper: WhisperModel | None = None,
    speechbrain_source: str | None = None,
) -> LanguageResult:
    """Average the language probabilities of the speech windows, weighted by their length."""
    windows = language_windows(audio, speech_spans(audio))
    if not windows:
        return LanguageResult(code=None, probability=None, method="none")
    totals: dict[str, float] = defaultdict(float)
    weight_sum = 0.0
    for window in windows:
        weight = len(window)
        if backend == "speechbrain":
            probabilities = _speechbrain_probabilities(speechbrain_source or "", window)
        else:
            probabilities = _whisper_probabilities(whisper, window)
        for code, p in probabilities:
            totals[code] += p * weight
        weight_sum += weight
    code, total = max(totals.items(), key=lambda kv: kv[1])
    return LanguageResult(
        code=code, probability=round(min(1.0, total / weight_sum), 4), method=backend
    )


def transcribe(audio: np.ndarray, model: WhisperModel, language: str) -> Transcript:
    """Transcribe with VAD (nothing is invented over silence) and word timestamps."""
    segments, _ = model.transcribe(
        audio,
        language=language,
        vad_filter=True,
        word_timestamps=True,
        condition_on_previous_text=False,  # keeps one bad segment from seeding the next
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
    return Transcript(language=language, segments=out)


def require_backend(backend: str) -> None:
    """Fail before any work when the chosen language-ID backend is not installed."""
    if backend == "speechbrain" and importlib.util.find_spec("speechbrain") is None:
        raise RuntimeError(
            "language_backend 'speechbrain' needs the speechbrain extra: pip install 'vidp[speechbrain]'"
        )
