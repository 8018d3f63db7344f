"""Real media for the tests: sentences spoken by espeak-ng and clips made with ffmpeg."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

__all__ = [
    "SENTENCES",
    "Spoken",
    "make_bus_clip",
    "make_cat_clip",
    "make_spanish_clip",
    "speak",
    "speech_track",
    "spoken",
]

SENTENCES = {
    "en": "Hello everyone. Today we are watching a small cat sleeping on the sofa in the garden.",
    # espeak-ng's French voice is misheard by whisper base for many sentences; Spanish is not.
    "es": "Hola a todos. Hoy vamos a ver un gato que duerme en el sofá de la casa.",
    "de": "Guten Tag zusammen. Heute sehen wir eine kleine Katze, die auf dem Sofa im Garten schläft.",
    "it": "Buongiorno a tutti. Oggi guardiamo un piccolo gatto che dorme sul divano del giardino.",
    # For tracks in several languages: a second English sentence, and a short Spanish one (3 s).
    "en-park": "The weather is nice and the children are playing football in the park near the river.",
    "es-short": "Hoy vamos a ver un gato que duerme en la casa.",
}


def speak(text: str, voice: str, out: Path) -> Path:
    """A WAV of `text` spoken by espeak-ng; a test without espeak-ng fails saying how to get it."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail(
            "espeak-ng is needed to speak test sentences: run tests/debian-packages.sh "
            "or apt-get install espeak-ng",
            pytrace=False,
        )
    subprocess.run([espeak, "-v", voice, "-s", "160", "-w", str(out), text], check=True)
    return out


def spoken(lang: str, folder: Path) -> Path:
    """SENTENCES[lang] spoken, made once in `folder`."""
    out = folder / f"speech-{lang}.wav"
    return out if out.exists() else speak(SENTENCES[lang], lang, out)


@dataclass(frozen=True)
class Spoken:
    """A sentence on a track: SENTENCES[key] in `language`, from `start_s` to `end_s`."""

    key: str
    language: str
    start_s: float
    end_s: float


def speech_track(
    keys: list[str], out: Path, pause_s: float = 1.5, music_under: str | None = None
) -> list[Spoken]:
    """SENTENCES[key] for each key, spoken one after another (each by its language's voice)
    with `pause_s` of silence between and 1 s before, as a 16 kHz WAV at `out`; with a chord
    that pulses (music) under the sentence `music_under`. Returns where each sentence is."""
    import wave

    from vidp.audio import SAMPLE_RATE, load_audio
    from vidp.ffmpeg import run_ffmpeg

    pieces = [np.zeros(SAMPLE_RATE, np.float32)]
    marks, at = [], 1.0
    for key in keys:
        language = key.split("-")[0]
        said = speak(SENTENCES[key], language, out.parent / f"{key}.wav")
        mono = out.parent / f"{key}-16k.wav"
        run_ffmpeg(["-i", str(said), "-ar", str(SAMPLE_RATE), "-ac", "1"], out=mono)
        samples = load_audio(mono)
        if key == music_under:
            samples = samples + _music(len(samples), SAMPLE_RATE)
        marks.append(Spoken(key, language, at, at + len(samples) / SAMPLE_RATE))
        pieces += [samples, np.zeros(int(pause_s * SAMPLE_RATE), np.float32)]
        at = marks[-1].end_s + pause_s
    pcm = (np.clip(np.concatenate(pieces), -1, 1) * 32767).astype("<i2")
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return marks


def _music(samples: int, rate: int) -> np.ndarray:
    """A chord of four notes, each pulsing at its own rate, quieter than the voice."""
    t = np.arange(samples) / rate
    notes = [
        np.sin(2 * np.pi * f * t) * (np.sin(2 * np.pi * (0.5 + i / 4) * t) > 0)
        for i, f in enumerate((220, 277, 330, 440))
    ]
    return (0.1 * sum(notes) / len(notes)).astype(np.float32)


def make_cat_clip(folder: Path, speech: Path) -> Path:
    """10 s, 640x360: the cat is on screen from 3 s to 7 s; `speech` from 1 s."""
    from vidp.sample import asset, make_clip

    return make_clip(
        folder / "cat.mp4",
        duration_s=10,
        still=asset("cat.jpg"),
        still_window=(3, 7),
        speech=speech,
        speech_at_s=1.0,
    )


def make_bus_clip(folder: Path) -> Path:
    """6 s of Ultralytics' bus photo (people and a bus, no animal) with a silent audio track."""
    import ultralytics

    from vidp.sample import make_clip

    bus = Path(ultralytics.__file__).parent / "assets" / "bus.jpg"
    return make_clip(folder / "bus.mp4", duration_s=6, still=bus)


def make_spanish_clip(folder: Path, speech: Path) -> Path:
    """40 s: a 32 s tone (a music intro longer than Whisper's 30 s window), then `speech`."""
    from vidp.sample import make_clip

    return make_clip(
        folder / "spanish.mp4",
        duration_s=40,
        size=(320, 180),
        tone_s=32,
        speech=speech,
        speech_at_s=33,
    )
