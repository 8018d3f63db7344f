"""Subtitle cues from word timestamps, written as SRT and WebVTT.

Rules: at most 2 lines of at most 42 characters, cues of at least 0.7 s, none overlapping,
none past the end of the video.
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel

from vidp.atomic import atomic_file
from vidp.speech import Segment, Word

__all__ = ["Cue", "build_cues", "wrap_lines", "to_srt", "to_vtt", "parse_srt", "write_subtitles"]

MAX_CHARS = 42
MAX_LINES = 2
MIN_DURATION_S = 0.7
MAX_DURATION_S = 7.0
MAX_GAP_S = 1.5


class Cue(BaseModel):
    start: float
    end: float
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _greedy(words: list[str], width: int) -> list[str]:
    lines: list[str] = []
    for word in words:
        while len(word) > width:  # a single over-long token (a URL, say) is hard-wrapped
            if lines and not lines[-1]:
                lines.pop()
            lines.append(word[:width])
            word = word[width:]
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def wrap_lines(text: str, width: int = MAX_CHARS) -> list[str]:
    """Wrap into as few lines as fit `width`; two lines are balanced for reading."""
    words = text.split()
    lines = _greedy(words, width)
    if len(lines) != 2:
        return lines
    best = lines
    for cut in range(1, len(words)):
        first, second = " ".join(words[:cut]), " ".join(words[cut:])
        if len(first) <= width and len(second) <= width:
            if max(len(first), len(second)) < max(len(best[0]), len(best[1])):
                best = [first, second]
    return best


def _segment_words(segment: Segment) -> list[Word]:
    if segment.words:
        return segment.words
    tokens = segment.text.split()  # no word timestamps: spread the segment's time evenly
    step = (segment.end - segment.start) / max(1, len(tokens))
    return [
        Word(
            start=segment.start + i * step,
            end=segment.start + (i + 1) * step,
            word=t,
            probability=1.0,
        )
        for i, t in enumerate(tokens)
    ]


def _group(segments: list[Segment]) -> list[tuple[float, float, str]]:
    groups: list[tuple[float, float, str]] = []
    for segment in segments:
        current: list[Word] = []
        for word in _segment_words(segment):
            token = word.word.strip()
            if not token:
                continue
            if current:
                text = " ".join(w.word.strip() for w in [*current, word])
                if (
                    len(wrap_lines(text)) > MAX_LINES
                    or word.end - current[0].start > MAX_DURATION_S
                    or word.start - current[-1].end > MAX_GAP_S
                ):
                    groups.append(_span(current))
                    current = []
            current.append(word)
        if current:
            groups.append(_span(current))
    return groups


def _span(words: list[Word]) -> tuple[float, float, str]:
    return words[0].start, words[-1].end, " ".join(w.word.strip() for w in words)


def build_cues(segments: list[Segment], duration_s: float) -> list[Cue]:
    """Cues that obey the rules above, for a video lasting `duration_s`.

    Times are whole milliseconds throughout, as SRT and WebVTT write them, so rounding can never
    break a rule.
    """
    min_ms = round(MIN_DURATION_S * 1000)
    timed: list[list[int]] = []
    texts: list[str] = []
    prev_end = 0
    for start_s, end_s, text in _group(segments):
        start = max(
            round(start_s * 1000), prev_end
        )  # never overlap; dense speech shifts a cue later
        end = max(round(end_s * 1000), start + min_ms)
        timed.append([start, end])
        texts.append(text)
        prev_end = end
    limit = math.floor(duration_s * 1000)
    for span in reversed(timed):  # pull cues back inside the video, keeping their minimum length
        span[1] = min(span[1], limit)
        span[0] = min(span[0], span[1] - min_ms)
        limit = span[0]
    return [
        Cue(start=s / 1000, end=e / 1000, lines=wrap_lines(t))
        for (s, e), t in zip(timed, texts, strict=True)
        if s >= 0  # only when the video is shorter than its cues could ever fit
    ]


def _stamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(cues: list[Cue]) -> str:
    blocks = [
        f"{i}\n{_stamp(c.start, ',')} --> {_stamp(c.end, ',')}\n{c.text}\n"
        for i, c in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(cues: list[Cue]) -> str:
    blocks = [f"{_stamp(c.start, '.')} --> {_stamp(c.end, '.')}\n{c.text}\n" for c in cues]
    return "WEBVTT\n\n" + "\n".join(blocks)


def _seconds(stamp: str) -> float:
    hms, ms = stamp.strip().replace(".", ",").split(",")
    h, m, s = (int(x) for x in hms.split(":"))
    return h * 3600 + m * 60 + s + int(ms) / 1000


def parse_srt(text: str) -> list[Cue]:
    """Read back what `to_srt` wrote (the quality gate checks the file, not our memory of it)."""
    cues = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        if len(lines) < 2 or "-->" not in lines[1]:
            continue
        start, end = lines[1].split("-->")
        cues.append(Cue(start=_seconds(start), end=_seconds(end), lines=lines[2:]))
    return cues


def write_subtitles(cues: list[Cue], srt: Path, vtt: Path) -> None:
    for path, text in ((srt, to_srt(cues)), (vtt, to_vtt(cues))):
        with atomic_file(path) as draft:
            draft.write_text(text, encoding="utf-8")
