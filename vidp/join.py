"""A segmented video made whole again: the parts' pictures joined without re-encoding, the
audio of the whole file encoded once and added, and what each part found put on the video's
clock (its transcript, subtitle cues and detections, from the part's own zero)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from vidp.detect import Detection
from vidp.encode import AAC
from vidp.ffmpeg import media_arg, run_ffmpeg
from vidp.languages import Assigned, Span, dominant, merge
from vidp.speech import LanguageResult, Segment, Transcript, Word
from vidp.subtitles import Cue

__all__ = [
    "whole_audio",
    "join_parts",
    "merge_transcripts",
    "spoken_language",
    "merge_cues",
    "merge_detections",
]


def whole_audio(source: Path | str, out: Path, copy: bool) -> Path:
    """The first audio stream of the whole source, once, for every joined video: copied when
    it is AAC already (`copy`), else encoded as the unsegmented encodes do."""
    where = source if isinstance(source, str) else media_arg(source)
    audio = ["-c:a", "copy"] if copy else AAC
    run_ffmpeg(["-i", where, "-map", "0:a:0", "-vn", *audio, "-f", "mp4"], out=out)
    return out


def join_parts(parts: Sequence[Path], audio: Path | None, out: Path) -> Path:
    """The parts' video streams one after another, copied (each starts on a keyframe of its
    own, with the same encoder settings), with `audio` beside them."""
    with tempfile.TemporaryDirectory(prefix="vidp-join-") as scratch:
        listing = Path(scratch) / "parts.ffconcat"
        listing.write_text(
            "ffconcat version 1.0\n" + "".join(f"file {_quoted(p)}\n" for p in parts),
            encoding="utf-8",
        )
        inputs = ["-f", "concat", "-safe", "0", "-i", media_arg(listing)]
        maps = ["-map", "0:v:0"]
        if audio is not None:
            inputs += ["-i", media_arg(audio)]
            maps += ["-map", "1:a:0"]
        run_ffmpeg([*inputs, *maps, "-c", "copy", "-movflags", "+faststart", "-f", "mp4"], out=out)
    return out


def _quoted(path: Path) -> str:
    """A path in an ffconcat listing: single-quoted, its own single quotes escaped."""
    return "'" + str(path.resolve()).replace("'", "'\\''") + "'"


def merge_transcripts(parts: Sequence[tuple[float, Transcript | None]]) -> Transcript | None:
    """One transcript from the parts' (`(offset_s, transcript)`, in order): every time moved
    by its part's offset; stretches of one language that meet at a cut become one; the
    language is the one spoken longest. None when no part heard speech."""
    heard = [(offset, text) for offset, text in parts if text is not None]
    if not heard:
        return None
    segments = [_shifted_segment(s, offset) for offset, text in heard for s in text.segments]
    pieces = [
        Assigned(_at(s.start_s, offset), _at(s.end_s, offset), s.code, s.probability)
        for offset, text in heard
        for s in text.languages
    ]
    return Transcript(
        language=dominant(pieces)[0] if pieces else heard[0][1].language,
        segments=segments,
        languages=merge(pieces),
        speech_s=round(sum(text.speech_s for _, text in heard), 3),
        untranscribed=[
            Span(start_s=_at(s.start_s, offset), end_s=_at(s.end_s, offset))
            for offset, text in heard
            for s in text.untranscribed
        ],
    )


def spoken_language(text: Transcript, method: str) -> LanguageResult:
    """The language spoken longest in a merged transcript, its probability weighted by the
    length of its stretches."""
    pieces = [Assigned(s.start_s, s.end_s, s.code, s.probability) for s in text.languages]
    if not pieces:
        return LanguageResult(code=text.language, probability=None, method=method)
    code, probability = dominant(pieces)
    return LanguageResult(code=code, probability=probability, method=method)


def _at(seconds: float, offset: float) -> float:
    return round(seconds + offset, 3)


def _shifted_segment(segment: Segment, offset: float) -> Segment:
    return segment.model_copy(
        update={
            "start": _at(segment.start, offset),
            "end": _at(segment.end, offset),
            "words": [
                Word(
                    start=_at(w.start, offset),
                    end=_at(w.end, offset),
                    word=w.word,
                    probability=w.probability,
                )
                for w in segment.words
            ],
        }
    )


def merge_cues(parts: Sequence[tuple[float, float, list[Cue]]]) -> list[Cue]:
    """The parts' cues (`(offset_s, end_s, cues)`, times from the part's zero) on the video's
    clock, as the parts burned them: each part's cues were made for its own length, from what
    was said in it, so none crosses into the next (a cut falls in a pause where there is one)."""
    merged: list[Cue] = []
    for offset, end, cues in parts:
        for cue in cues:
            start_s, end_s = _at(cue.start, offset), _at(cue.end, offset)
            if start_s >= end:
                continue
            merged.append(Cue(start=start_s, end=min(end_s, end), lines=cue.lines))
    return merged


def merge_detections(parts: Sequence[tuple[float, list[Detection]]]) -> list[Detection]:
    """The parts' detections (`(offset_s, detections)`) on the video's clock."""
    return [
        d.model_copy(update={"time_s": _at(d.time_s, offset)})
        for offset, found in parts
        for d in found
    ]
