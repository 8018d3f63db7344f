"""Real media for the tests: sentences spoken by espeak-ng and clips made with ffmpeg."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["SENTENCES", "speak", "spoken", "make_cat_clip", "make_bus_clip", "make_spanish_clip"]

SENTENCES = {
    "en": "Hello everyone. Today we are watching a small cat sleeping on the sofa in the garden.",
    # espeak-ng's French voice is misheard by whisper base for many sentences; Spanish is not.
    "es": "Hola a todos. Hoy vamos a ver un gato que duerme en el sofá de la casa.",
    "de": "Guten Tag zusammen. Heute sehen wir eine kleine Katze, die auf dem Sofa im Garten schläft.",
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
