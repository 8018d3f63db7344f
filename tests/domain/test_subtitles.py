"""Subtitle cues: the rules a subtitle editor checks, on hand-made and generated transcripts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vidp.speech import Segment, Word
from vidp.subtitles import (
    MAX_CHARS,
    MIN_DURATION_S,
    build_cues,
    parse_srt,
    to_srt,
    to_vtt,
    wrap_lines,
)


def _segment(words: list[tuple[float, float, str]]) -> Segment:
    return Segment(
        start=words[0][0],
        end=words[-1][1],
        text=" ".join(w for _, _, w in words),
        words=[Word(start=s, end=e, word=f" {w}", probability=0.9) for s, e, w in words],
    )


def _assert_rules(cues, duration_s: float) -> None:
    previous_end = 0.0
    for cue in cues:
        assert 1 <= len(cue.lines) <= 2
        assert all(len(line) <= MAX_CHARS for line in cue.lines)
        assert cue.end - cue.start >= MIN_DURATION_S - 1e-6
        assert cue.start >= previous_end - 1e-6
        assert 0 <= cue.start < cue.end <= duration_s + 1e-6
        previous_end = cue.end


class TestCueRules:
    def test_long_sentence_is_split_into_short_cues(self) -> None:
        words = [
            (i * 0.3, i * 0.3 + 0.25, w)
            for i, w in enumerate(("lorem ipsum dolor sit amet " * 8).split())
        ]
        cues = build_cues([_segment(words)], duration_s=20)
        _assert_rules(cues, 20)
        assert len(cues) > 1
        assert " ".join(" ".join(c.lines) for c in cues).split() == [w for _, _, w in words]

    def test_short_word_is_held_for_the_minimum(self) -> None:
        cues = build_cues([_segment([(1.0, 1.1, "Hi")])], duration_s=10)
        assert cues[0].start == 1.0 and cues[0].end >= 1.7

    def test_cue_never_runs_past_the_end(self) -> None:
        cues = build_cues([_segment([(9.8, 9.95, "bye")])], duration_s=10)
        _assert_rules(cues, 10)
        assert cues[-1].end == 10

    def test_dense_cues_do_not_overlap(self) -> None:
        segments = [_segment([(i * 0.2, i * 0.2 + 0.1, f"w{i}")]) for i in range(10)]
        cues = build_cues(segments, duration_s=30)
        _assert_rules(cues, 30)

    def test_two_lines_are_balanced(self) -> None:
        lines = wrap_lines("the quick brown fox jumps over the lazy dog and runs far away")
        assert len(lines) == 2
        assert abs(len(lines[0]) - len(lines[1])) < 12

    def test_over_long_token_is_hard_wrapped(self) -> None:
        assert all(len(line) <= MAX_CHARS for line in wrap_lines("x" * 100))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 5),
            st.floats(0.01, 3),
            st.text(alphabet="abcdéfghij", min_size=1, max_size=50),
        ),
        min_size=1,
        max_size=40,
    ),
    st.floats(5, 200),
)
def test_any_transcript_gives_valid_cues(
    raw: list[tuple[float, float, str]], duration: float
) -> None:
    t, words = 0.0, []
    for gap, length, text in raw:
        t += gap
        words.append((t, t + length, text))
        t += length
    cues = build_cues([_segment(words)], duration_s=max(duration, len(words) * MIN_DURATION_S))
    _assert_rules(cues, max(duration, len(words) * MIN_DURATION_S))


class TestFormats:
    CUES = build_cues(
        [_segment([(0.5, 1.0, "Ça"), (1.0, 1.6, "va?")]), _segment([(61.0, 62.5, "Oui.")])], 3700
    )

    def test_srt_round_trips(self) -> None:
        text = to_srt(self.CUES)
        assert text.startswith("1\n00:00:00,500 --> 00:00:01,600\nÇa va?\n")
        assert "00:01:01,000 --> 00:01:02,500" in text
        assert [(c.start, c.end, c.lines) for c in parse_srt(text)] == [
            (c.start, c.end, c.lines) for c in self.CUES
        ]

    def test_vtt_has_header_and_dot_milliseconds(self) -> None:
        text = to_vtt(self.CUES)
        assert text.startswith("WEBVTT\n\n00:00:00.500 --> 00:00:01.600\nÇa va?\n")
