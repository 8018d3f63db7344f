"""Transcription, and the language Whisper identifies on the speech, with the real `base` model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidp.audio import SAMPLE_RATE, extract_audio, load_audio
from vidp.speech import LanguageResult, transcribe
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
