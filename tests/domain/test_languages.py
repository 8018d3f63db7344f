"""A language per stretch of speech: the rules, on the probabilities Whisper gives (the model
itself is in test_speech.py)."""

from __future__ import annotations

from vidp.languages import (
    Assigned,
    LanguageStretch,
    Span,
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
from vidp.quality import untranscribed_warning
from vidp.report import language_timeline
from vidp.speech import Transcript


def test_speech_is_packed_into_windows_of_at_most_30_s_in_order() -> None:
    spans = [(0.0, 10.0), (11.0, 25.0), (26.0, 31.0), (40.0, 70.0), (71.0, 72.0)]
    assert pack(spans) == [[0, 1, 2], [3], [4]]
    assert pack([]) == []


def test_a_sure_window_gives_its_language_to_all_its_pieces() -> None:
    spans = [(0.0, 5.0), (6.0, 8.0)]
    pieces = assign(spans, [[0, 1]], [{"en": 0.97, "es": 0.01}], {})
    assert [(p.code, p.probability) for p in pieces] == [("en", 0.97), ("en", 0.97)]
    assert mixed([[0, 1]], [{"en": 0.97}]) == []


def test_where_two_sure_windows_disagree_the_pieces_either_side_are_heard_on_their_own() -> None:
    windows = [[0, 1, 2], [3, 4], [5, 6]]
    votes = [{"en": 0.97}, {"es": 0.95}, {"es": 0.96}]
    assert mixed(windows, votes) == [2, 3]
    spans = [(0.0, 9.0), (10.0, 20.0), (21.0, 27.0), (28.0, 40.0), (41.0, 50.0), (51, 70), (71, 80)]
    # The English window ended in Spanish: its last piece is Spanish, heard alone.
    pieces = assign(spans, windows, votes, {2: {"es": 0.9}, 3: {"es": 0.93}})
    assert [p.code for p in pieces] == ["en", "en", "es", "es", "es", "es", "es"]


def test_in_a_window_that_mixes_each_piece_is_heard_on_its_own() -> None:
    spans = [(0.0, 7.0), (8.0, 15.0), (16.0, 18.0), (19.0, 21.0)]
    window = {"en": 0.5, "es": 0.45}
    assert mixed([[0, 1, 2, 3]], [window]) == [0, 1, 2, 3]
    pieces = assign(
        spans,
        [[0, 1, 2, 3]],
        [window],
        {
            0: {"en": 0.55, "fr": 0.3},  # long: its own answer stands even unsure
            1: {"es": 0.85, "en": 0.1},
            2: {"pt": 0.6, "es": 0.3},  # short and unsure: its nearest trusted neighbour's
            3: {"it": 0.82, "es": 0.1},  # short but sure
        },
    )
    assert [(p.code, p.probability) for p in pieces] == [
        ("en", 0.55),
        ("es", 0.85),
        ("es", 0.3),  # its own probability for the language it is given
        ("it", 0.82),
    ]


def test_with_no_trusted_piece_a_short_one_keeps_its_own_answer() -> None:
    pieces = assign([(0.0, 2.0)], [[0]], [{"de": 0.4}], {0: {"de": 0.4, "en": 0.3}})
    assert (pieces[0].code, pieces[0].probability) == ("de", 0.4)


def test_doubtful_pieces_are_those_with_unsure_words_or_none() -> None:
    spans = [(0.0, 5.0), (6.0, 9.0), (10.0, 14.0), (15.0, 15.8)]
    words = [(1.0, 1.5, 0.95), (2.0, 2.5, 0.9), (6.5, 7.0, 0.4), (7.5, 8.0, 0.5)]
    # the third has no word (long enough to hold some); the fourth is too short to say
    assert doubtful(spans, words) == [1, 2]


def test_a_doubtful_piece_is_tried_in_the_language_it_is_heard_in_and_kept_if_surer() -> None:
    pieces = [Assigned(0, 5, "en", 0.9), Assigned(6, 9, "en", 0.9), Assigned(10, 14, "en", 0.9)]
    tried = reassign(pieces, {1: {"es": 0.7, "en": 0.2}, 2: {"cy": 0.3, "en": 0.25}})
    assert [p.code for p in tried] == ["en", "es", "en"], "0.3 is too unsure to try"
    assert tried[1].probability == 0.7
    spans = [(p.start_s, p.end_s) for p in pieces]
    before = [(6.5, 7.0, 0.4), (7.5, 8.0, 0.5)]
    assert surer(spans, [1], before, [(6.5, 7.0, 0.9), (7.5, 8.0, 0.8)]) == [1]
    assert surer(spans, [1], before, [(6.5, 7.0, 0.3)]) == []
    assert surer(spans, [2], [], [(11.0, 11.5, 0.6)]) == [2], "words where there were none"


def test_neighbours_in_one_language_are_one_stretch() -> None:
    pieces = [
        Assigned(0.5, 4.5, "en", 0.9),
        Assigned(5.0, 6.0, "en", 0.6),
        Assigned(7.0, 12.0, "es", 0.8),
        Assigned(13.0, 14.0, "en", None),
    ]
    assert merge(pieces) == [
        LanguageStretch(start_s=0.5, end_s=6.0, code="en", probability=0.84),  # weighted by time
        LanguageStretch(start_s=7.0, end_s=12.0, code="es", probability=0.8),
        LanguageStretch(start_s=13.0, end_s=14.0, code="en", probability=None),
    ]
    assert dominant(pieces) == ("en", 0.84)  # 6 s of English against 5 of Spanish


def test_speech_without_words_is_named() -> None:
    spans = [(0.0, 5.0), (6.0, 9.0), (10.0, 11.0)]
    words = [(1.0, 1.5), (4.9, 6.2)]
    # the first and second have words (one word across both); the third is too short to count
    assert untranscribed(spans, words) == []
    assert untranscribed(spans, [(1.0, 1.5)]) == [Span(start_s=6.0, end_s=9.0)]


def test_the_warning_says_where_and_how_much_in_one_line() -> None:
    assert untranscribed_warning([], 20.0) is None
    warning = untranscribed_warning([(8.3, 13.36), (15.41, 21.84)], 26.3)
    assert warning == "speech without words: 8.3–13.4 s, 15.4–21.8 s (11.5 of 26.3 s of speech)"


def test_a_subtitle_track_in_several_languages_is_tagged_mul() -> None:
    one = Transcript(
        language="en",
        segments=[],
        languages=[LanguageStretch(start_s=0, end_s=5, code="en", probability=0.9)],
    )
    assert one.track_language == "en"
    two = one.model_copy(
        update={
            "languages": [
                *one.languages,
                LanguageStretch(start_s=6, end_s=9, code="es", probability=0.8),
            ]
        }
    )
    assert two.track_language == "mul"


def test_the_report_shows_the_languages_on_a_timeline() -> None:
    from vidp.manifest import LanguageSpan

    stretches = [
        LanguageSpan(start_s=0.0, end_s=10.0, code="en", probability=0.94),
        LanguageSpan(start_s=10.0, end_s=20.0, code="es", probability=None),
    ]
    rows = language_timeline(stretches, duration_s=20.0)
    assert rows[2] == "| from (s) | to (s) | language | p | timeline |"
    assert rows[4] == f"| 0.0 | 10.0 | en | 0.94 | `{'█' * 20}{'·' * 20}` |"
    assert rows[5] == f"| 10.0 | 20.0 | es | — | `{'·' * 20}{'█' * 20}` |"
    assert language_timeline(stretches[:1], 20.0) == [], "one language: no timeline"


def test_a_transcript_file_keeps_every_stretch_and_segment_language(tmp_path) -> None:
    from vidp.speech import Segment, Word

    text = Transcript(
        language="es",
        segments=[
            Segment(
                start=0.5,
                end=1.5,
                text="Hola",
                words=[Word(start=0.5, end=1.5, word=" Hola", probability=0.9)],
                language="es",
            )
        ],
        languages=[LanguageStretch(start_s=0.4, end_s=1.6, code="es", probability=0.88)],
        speech_s=1.2,
        untranscribed=[Span(start_s=3.0, end_s=5.0)],
    )
    assert Transcript.load(text.save(tmp_path / "transcript.json")) == text
