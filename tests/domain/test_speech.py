"""Transcription, and the language Whisper identifies on every stretch of speech, with the real
`base` model on sentences spoken by espeak-ng (its English, Spanish, German and Italian voices:
whisper base mishears its French and Portuguese, docs/reference.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.media import Spoken, speech_track

from vidp.audio import SAMPLE_RATE, extract_audio, load_audio
from vidp.speech import LanguageResult, Transcript, transcribe
from vidp.whisper_model import load_whisper

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def whisper():
    return load_whisper("base")


def audio_of(clip: Path, tmp_path: Path) -> np.ndarray:
    return load_audio(extract_audio(clip, tmp_path / "a.wav"))


def test_audio_is_16k_mono(cat_clip: Path, tmp_path: Path) -> None:
    audio = audio_of(cat_clip, tmp_path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == pytest.approx(10 * SAMPLE_RATE, rel=0.01)


def test_english_is_identified_and_transcribed(cat_clip: Path, tmp_path: Path, whisper) -> None:
    language, text = transcribe(audio_of(cat_clip, tmp_path), whisper, None)
    assert (language.code, language.method) == ("en", "whisper") and language.probability > 0.5
    said = " ".join(s.text for s in text.segments).lower()
    assert "cat" in said and ("sofa" in said or "garden" in said)
    assert text.language == "en" and all(s.words for s in text.segments), "word times"


def test_music_intro_does_not_decide_the_language(
    spanish_clip: Path, tmp_path: Path, whisper
) -> None:
    language, text = transcribe(audio_of(spanish_clip, tmp_path), whisper, None)
    assert language.code == "es"
    assert "gato" in " ".join(s.text for s in text.segments).lower()
    assert text.segments[0].start >= 32, "times are the video's, after the 32 s intro"
    assert [(s.code, s.start_s >= 32) for s in text.languages] == [("es", True)]
    assert text.untranscribed == []


def test_speech_after_20_s_of_silence_is_one_stretch_at_its_time(tmp_path: Path, whisper) -> None:
    speech_track(["es", "es-short"], tmp_path / "track.wav", 1.5)
    silence = np.zeros(20 * SAMPLE_RATE, np.float32)
    language, text = transcribe(
        np.concatenate([silence, load_audio(tmp_path / "track.wav")]), whisper, None
    )
    assert language.code == "es" and [s.code for s in text.languages] == ["es"]
    assert text.languages[0].start_s >= 20.5 and text.segments[0].start >= 20.5
    assert text.untranscribed == []


# A word of each sentence that Whisper base writes the same way every time.
HEARD = {
    "en": "cat",
    "en-park": "football",
    "es": "duerme",
    "es-short": "casa",
    "de": "katze",
    "it": "gatto",
}


def said_in(text: Transcript, sentence: Spoken) -> set[str | None]:
    """The languages of the segments that overlap `sentence`."""
    return {
        s.language for s in text.segments if s.start < sentence.end_s and s.end > sentence.start_s
    }


@pytest.mark.parametrize(
    ("keys", "pause_s", "music_under"),
    [
        (["en", "es"], 1.0, None),
        (["es", "en"], 2.5, None),
        (["en", "es", "de"], 1.5, None),
        (["en", "es", "de", "it"], 2.5, None),
        (["en", "es-short", "en-park"], 1.5, None),
        (["en", "es", "en-park"], 1.0, "es"),
        # About 30 s each, a window of its own: told English, Whisper would translate the rest.
        (
            ["en", "en-park", "en", "en-park", "en", "es", "es-short", "es", "es-short", "es"],
            1.0,
            None,
        ),
    ],
    ids=[
        "two",
        "two the other way",
        "three",
        "four",
        "a 3 s stretch",
        "music under one",
        "long stretches",
    ],
)
def test_every_stretch_is_transcribed_in_its_language(
    keys: list[str], pause_s: float, music_under: str | None, tmp_path: Path, whisper
) -> None:
    spoken = speech_track(keys, tmp_path / "track.wav", pause_s, music_under)
    language, text = transcribe(load_audio(tmp_path / "track.wav"), whisper, None)

    runs: list[list[Spoken]] = []  # neighbouring sentences in one language
    for sentence in spoken:
        if runs and runs[-1][-1].language == sentence.language:
            runs[-1].append(sentence)
        else:
            runs.append([sentence])
    assert [s.code for s in text.languages] == [run[0].language for run in runs]
    for stretch, run in zip(text.languages, runs, strict=True):
        assert stretch.start_s < run[0].start_s + 0.5 and stretch.end_s > run[-1].end_s - 0.5
        assert stretch.probability is not None and 0 < stretch.probability <= 1
    for sentence in spoken:
        assert said_in(text, sentence) == {sentence.language}, sentence
        words = " ".join(
            s.text for s in text.segments if s.start < sentence.end_s and s.end > sentence.start_s
        )
        assert HEARD[sentence.key] in words.lower(), (sentence, words)
    assert text.untranscribed == [] and text.speech_s > 0.8 * sum(
        s.end_s - s.start_s for s in spoken
    )
    longest = max(spoken, key=lambda s: s.end_s - s.start_s).language
    assert (language.code, language.method, text.language) == (longest, "whisper", longest)


def test_a_given_language_holds_for_all_and_the_speech_it_loses_is_named(
    tmp_path: Path, whisper
) -> None:
    spoken = speech_track(["en", "es", "de", "it"], tmp_path / "track.wav", 2.5)
    forced = LanguageResult(code="en", probability=None, method="forced")
    language, text = transcribe(load_audio(tmp_path / "track.wav"), whisper, forced)

    assert language == forced and {s.language for s in text.segments} == {"en"}
    assert [(s.code, s.probability) for s in text.languages] == [("en", None)]
    # Whisper told to hear English drops the rest (as it did before languages per stretch,
    # when it picked one language per file): the transcript says so.
    lost = [(u.start_s, u.end_s) for u in text.untranscribed]
    for sentence in spoken[1:]:
        assert any(a < sentence.end_s and b > sentence.start_s for a, b in lost), sentence
    assert not any(a < spoken[0].end_s and b > spoken[0].start_s for a, b in lost)


@pytest.mark.parametrize("lang", ["es", "de"])
def test_other_languages(lang: str, speech, tmp_path: Path, whisper) -> None:
    language, _ = transcribe(audio_of(speech(lang), tmp_path), whisper, None)
    assert language.code == lang


def test_a_given_language_is_kept(cat_clip: Path, tmp_path: Path, whisper) -> None:
    forced = LanguageResult(code="en", probability=None, method="forced")
    language, text = transcribe(audio_of(cat_clip, tmp_path), whisper, forced)
    assert language == forced and text.language == "en" and text.segments


def test_silence_has_no_language_and_no_invented_text(tmp_path: Path, whisper) -> None:
    noise = (np.random.default_rng(0).normal(0, 0.002, 8 * SAMPLE_RATE)).astype(np.float32)
    language, text = transcribe(noise, whisper, None)
    assert (language.code, language.method) == (None, "none") and text.segments == []
    forced = LanguageResult(code="en", probability=None, method="forced")
    assert transcribe(noise, whisper, forced)[1].segments == []


def test_speechbrain_without_the_extra_says_how_to_install_it() -> None:
    from vidp.speech import require_backend

    with pytest.raises(RuntimeError, match=r"pip install 'vidp\[speechbrain\]'"):
        require_backend("speechbrain")
