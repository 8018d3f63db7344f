"""Language identification and transcription with the real whisper `base` model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidp.audio import SAMPLE_RATE, extract_audio, load_audio
from vidp.speech import identify_language, transcribe
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
    audio = audio_of(cat_clip, tmp_path)
    language = identify_language(audio, backend="whisper", whisper=whisper)
    assert (language.code, language.method) == ("en", "whisper") and language.probability > 0.5
    text = " ".join(s.text for s in transcribe(audio, whisper, "en").segments).lower()
    assert "cat" in text and ("sofa" in text or "garden" in text)


def test_music_intro_does_not_decide_the_language(
    spanish_clip: Path, tmp_path: Path, whisper
) -> None:
    language = identify_language(
        audio_of(spanish_clip, tmp_path), backend="whisper", whisper=whisper
    )
    assert language.code == "es"
    text = " ".join(
        s.text for s in transcribe(audio_of(spanish_clip, tmp_path), whisper, "es").segments
    )
    assert "gato" in text.lower()


@pytest.mark.parametrize("lang", ["es", "de"])
def test_other_languages(lang: str, speech, tmp_path: Path, whisper) -> None:
    audio = audio_of(speech(lang), tmp_path)
    assert identify_language(audio, backend="whisper", whisper=whisper).code == lang


def test_silence_has_no_language_and_no_invented_text(tmp_path: Path, whisper) -> None:
    noise = (np.random.default_rng(0).normal(0, 0.002, 8 * SAMPLE_RATE)).astype(np.float32)
    assert identify_language(noise, backend="whisper", whisper=whisper).code is None
    assert transcribe(noise, whisper, "en").segments == []


def test_speechbrain_without_the_extra_says_how_to_install_it() -> None:
    from vidp.speech import require_backend

    with pytest.raises(RuntimeError, match=r"pip install 'vidp\[speechbrain\]'"):
        require_backend("speechbrain")
