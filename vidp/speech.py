"""Transcription with Whisper, which identifies the language of every stretch of speech, and the
optional speechbrain language ID on several windows of real speech."""

from __future__ import annotations

import hashlib
import importlib.util
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from vidp.atomic import atomic_file
from vidp.audio import SAMPLE_RATE
from vidp.languages import (
    MAX_WINDOW_S,
    Assigned,
    LanguageStretch,
    Span,
    Votes,
    assign,
    dominant,
    doubtful,
    merge,
    mixed,
    pack,
    reassign,
    surer,
    untranscribed,
)

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.vad import VadOptions

__all__ = [
    "LanguageResult",
    "Word",
    "Segment",
    "Transcript",
    "speech_spans",
    "speech_pieces",
    "language_windows",
    "identify_language",
    "transcribe",
    "require_backend",
]

_MAX_WINDOWS = 3  # of speech, for speechbrain to identify the language on
# Pauses of half a second cut speech at every change of language measured (espeak-ng, pauses of
# 1 s and more) and inside no sentence; 160 ms cut sentences, 1 s missed changes.
# faster-whisper's pipeline is given the same pauses, so that the windows identified are the
# chunks it transcribes and their encodings serve it too.
_PIECE_PAUSE_S = 0.5
_SPEECHBRAIN_PAUSE_S = 2.0
# Encodings kept from identification for transcription: 3 MB each with `base`, 8 with large-v3;
# past this many windows (16 min of speech) the rest are encoded again.
_KEEP_ENCODINGS = 32
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
    # Its stretch's language; None in transcripts made before languages per stretch.
    language: str | None = None


class Transcript(BaseModel):
    """What was said. `language` is the one spoken longest; `languages` covers the speech
    stretch by stretch; `untranscribed` is speech voice activity found that no word covers."""

    language: str | None
    segments: list[Segment]
    languages: list[LanguageStretch] = []
    speech_s: float = 0.0
    untranscribed: list[Span] = []

    @property
    def word_count(self) -> int:
        return sum(len(s.words) for s in self.segments)

    @property
    def track_language(self) -> str | None:
        """The language to tag a subtitle track with: `mul` (ISO 639-2, several languages)
        where the stretches are in more than one."""
        return "mul" if len({s.code for s in self.languages}) > 1 else self.language

    @classmethod
    def load(cls, path: Path) -> Transcript:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))

    def save(self, path: Path) -> Path:
        with atomic_file(path) as draft:
            draft.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return path


def speech_spans(audio: np.ndarray, pause_s: float = _SPEECHBRAIN_PAUSE_S) -> list[tuple[int, int]]:
    """Sample ranges that Silero VAD hears as speech, cut at pauses of `pause_s` and at most
    30 s long."""
    from faster_whisper.vad import get_speech_timestamps

    return [(c["start"], c["end"]) for c in get_speech_timestamps(audio, _vad_options(pause_s))]


def speech_pieces(audio: np.ndarray) -> list[tuple[float, float]]:
    """The pieces of speech (seconds) that `transcribe` hears and decodes one by one: a cut
    between two of them cuts no piece the transcription of the whole would have heard."""
    return [(s / SAMPLE_RATE, e / SAMPLE_RATE) for s, e in speech_spans(audio, _PIECE_PAUSE_S)]


def _vad_options(pause_s: float) -> VadOptions:
    from faster_whisper.vad import VadOptions

    return VadOptions(
        min_silence_duration_ms=round(pause_s * 1000), max_speech_duration_s=MAX_WINDOW_S
    )


def language_windows(audio: np.ndarray, spans: list[tuple[int, int]]) -> list[np.ndarray]:
    """Up to three 30 s windows of speech only, from the start, middle and end of the talking.

    Silence and music are cut out first, so an intro cannot decide the language.
    """
    if not spans:
        return []
    speech = np.concatenate([audio[s:e] for s, e in spans])
    size = int(MAX_WINDOW_S * SAMPLE_RATE)
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
    timestamps, each stretch in its own language. Without a `language`, Whisper identifies the
    language of every stretch (`vidp.languages`); a given one holds for the whole file. No
    speech at all gives method 'none' and no segments."""
    spans = speech_spans(audio, _PIECE_PAUSE_S)
    if not spans:
        return LanguageResult(code=None, probability=None, method="none"), Transcript(
            language=None, segments=[]
        )
    seconds = [(s / SAMPLE_RATE, e / SAMPLE_RATE) for s, e in spans]
    if language is not None:
        pieces = [Assigned(s, e, str(language.code), language.probability) for s, e in seconds]
        segments = _decode_pieces(audio, spans, pieces, model)
    else:
        known = _KnownEncodings(model)
        pieces, heard_alone = _identify(audio, spans, seconds, known)
        segments = _decode_pieces(audio, spans, pieces, known)
        pieces, segments = _second_look(audio, spans, pieces, heard_alone, segments, model)
        code, probability = dominant(pieces)
        language = LanguageResult(code=code, probability=probability, method="whisper")
    segments.sort(key=lambda s: s.start)
    words_at = [(w.start, w.end) for s in segments for w in s.words]
    return language, Transcript(
        language=language.code,
        segments=segments,
        languages=merge(pieces),
        speech_s=round(sum(p.seconds for p in pieces), 3),
        untranscribed=untranscribed(seconds, words_at),
    )


class _KnownEncodings:
    """The model, with the encoder's outputs for the windows identified kept until the
    transcription encodes the same features: the encoder is most of Whisper's cost, and a
    window's language comes from its encoding for one decoder step more. A stand-in for the
    WhisperModel that faster-whisper's pipeline is given; features it has not seen are encoded."""

    def __init__(self, model: WhisperModel) -> None:
        self.whisper = model
        self._kept: dict[bytes, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.whisper, name)

    @staticmethod
    def _key(features: np.ndarray) -> bytes:
        return hashlib.blake2b(np.ascontiguousarray(features).tobytes(), digest_size=16).digest()

    def encode_and_keep(self, features: np.ndarray) -> Any:
        encoded = self.whisper.encode(features)
        if len(self._kept) * len(features) < _KEEP_ENCODINGS:
            self._kept[self._key(features)] = encoded
        return encoded

    def encode(self, features: np.ndarray) -> Any:
        kept = self._kept.pop(self._key(features), None)
        return kept if kept is not None else self.whisper.encode(features)


def _second_look(
    audio: np.ndarray,
    spans: list[tuple[int, int]],
    pieces: list[Assigned],
    heard_alone: dict[int, Votes],
    segments: list[Segment],
    model: WhisperModel,
) -> tuple[list[Assigned], list[Segment]]:
    """A piece in another language than its window's or its neighbours' comes out as words
    Whisper doubts, or none: hear each such piece on its own (unless it was), try it in the
    language it is heard in, and keep whichever transcription Whisper is surer of."""
    seconds = [(p.start_s, p.end_s) for p in pieces]
    again = doubtful(seconds, _words(segments))
    unheard = [i for i in again if i not in heard_alone]
    votes = heard_alone | dict(
        zip(unheard, _votes(model, [audio[slice(*spans[i])] for i in unheard]), strict=True)
    )
    tried = reassign(pieces, {i: votes[i] for i in again})
    moved = [i for i, (a, b) in enumerate(zip(pieces, tried, strict=True)) if a != b]
    if not moved:
        return pieces, segments
    retried = _decode_pieces(audio, spans, tried, model, only=moved)
    kept = surer(seconds, moved, _words(segments), _words(retried))
    segments = _without(segments, [seconds[i] for i in kept]) + _without(
        retried, [seconds[i] for i in moved if i not in kept]
    )
    return [tried[i] if i in kept else p for i, p in enumerate(pieces)], segments


def _identify(
    audio: np.ndarray,
    spans: list[tuple[int, int]],
    seconds: list[tuple[float, float]],
    known: _KnownEncodings,
) -> tuple[list[Assigned], dict[int, Votes]]:
    """Whisper's language for each piece of speech: on windows of up to 30 s of speech first
    (the chunks the pipeline transcribes, their encodings kept for it), then piece by piece
    where `mixed` says; and what was heard in the pieces heard on their own."""
    windows = pack(seconds)
    clips = [np.concatenate([audio[slice(*spans[i])] for i in w]) for w in windows]
    window_votes = _votes(known.whisper, clips, known.encode_and_keep)
    # A window of one piece is that piece heard on its own.
    piece_votes = {
        w[0]: votes for w, votes in zip(windows, window_votes, strict=True) if len(w) == 1
    }
    unheard = [i for i in mixed(windows, window_votes) if i not in piece_votes]
    piece_votes |= dict(
        zip(
            unheard,
            _votes(known.whisper, [audio[slice(*spans[i])] for i in unheard]),
            strict=True,
        )
    )
    return assign(seconds, windows, window_votes, piece_votes), piece_votes


def _words(segments: list[Segment]) -> list[tuple[float, float, float]]:
    return [(w.start, w.end, w.probability) for s in segments for w in s.words]


def _votes(
    model: WhisperModel,
    clips: list[np.ndarray],
    encode: Callable[[np.ndarray], Any] | None = None,
) -> list[Votes]:
    """Whisper's probability of each language on each clip (up to 30 s), batched as the
    pipeline batches its chunks (features made the same way), encoded by `encode`."""
    from faster_whisper.audio import pad_or_trim

    batch = _BATCH.get(model.model.device, 4)
    out: list[Votes] = []
    for i in range(0, len(clips), batch):
        features = np.stack(
            [pad_or_trim(model.feature_extractor(c)[..., :-1]) for c in clips[i : i + batch]]
        )
        encoded = (encode or model.encode)(features)
        for ranked in model.model.detect_language(encoded):
            out.append({token[2:-2]: p for token, p in ranked})
    return out


def _decode_pieces(
    audio: np.ndarray,
    spans: list[tuple[int, int]],
    pieces: list[Assigned],
    model: WhisperModel | _KnownEncodings,
    only: list[int] | None = None,
) -> list[Segment]:
    """The segments of the pieces (those in `only`, else all), each language in one batched
    pass over the audio with the other pieces silenced, so that times stay the video's."""
    chosen = set(range(len(pieces)) if only is None else only)
    codes = {pieces[i].code for i in chosen}
    segments: list[Segment] = []
    for code in sorted(codes):
        keep = {i for i in chosen if pieces[i].code == code}
        if len(keep) == len(pieces):  # all of it: as it is
            segments += _decode(audio, model, code)
            continue
        silenced = audio.copy()
        for i, (start, end) in enumerate(spans):
            if i not in keep:
                silenced[start:end] = 0.0
        segments += _decode(silenced, model, code)
    return segments


def _without(segments: list[Segment], spans: list[tuple[float, float]]) -> list[Segment]:
    """`segments` less their words inside `spans`: a segment is cut where words left it, and
    dropped when none are left."""
    out = []
    for segment in segments:
        runs: list[list[Word]] = [[]]
        for w in segment.words:
            if any(a <= (w.start + w.end) / 2 < b for a, b in spans):
                runs.append([])
            else:
                runs[-1].append(w)
        if len(runs) == 1:  # nothing removed
            out.append(segment)
            continue
        out += [
            segment.model_copy(
                update={
                    "words": run,
                    "text": "".join(w.word for w in run).strip(),
                    "start": run[0].start,
                    "end": run[-1].end,
                }
            )
            for run in runs
            if run
        ]
    return out


def _decode(audio: np.ndarray, model: WhisperModel | _KnownEncodings, code: str) -> list[Segment]:
    """The segments of the speech in `audio`, decoded as language `code`."""
    from faster_whisper import BatchedInferencePipeline

    # Batched: the speech is cut at VAD pauses into chunks of up to 30 s that are decoded
    # together, each on its own (no text carried over), which keeps one bad chunk from seeding
    # the next and is faster on CPU and GPU alike.
    found, _ = BatchedInferencePipeline(model).transcribe(
        audio,
        language=code,
        vad_filter=True,
        vad_parameters=_vad_options(_PIECE_PAUSE_S),
        word_timestamps=True,
        batch_size=_BATCH.get(model.model.device, 4),
    )
    out = []
    for s in found:
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
        out.append(
            Segment(
                start=round(s.start, 3), end=round(s.end, 3), text=text, words=words, language=code
            )
        )
    return out


def require_backend(backend: str) -> None:
    """Fail before any work when the chosen language-ID backend is not installed."""
    if backend == "speechbrain" and importlib.util.find_spec("speechbrain") is None:
        raise RuntimeError(
            "language_backend 'speechbrain' needs the speechbrain extra: pip install 'vidp[speechbrain]'"
        )
