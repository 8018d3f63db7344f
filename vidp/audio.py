"""Extract the audio track once, as the 16 kHz mono PCM that the speech models expect."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidp.ffmpeg import media_arg, run_ffmpeg

__all__ = ["SAMPLE_RATE", "extract_audio", "load_audio"]

SAMPLE_RATE = 16_000


def extract_audio(
    video: Path | str, out: Path, start_s: float = 0.0, duration_s: float | None = None
) -> Path:
    """Write the first audio stream as 16 kHz mono 16-bit WAV: all of it, or `duration_s` from
    `start_s` (a segment's, from a file or a URL ffmpeg reads in ranges)."""
    where = video if isinstance(video, str) else media_arg(video)
    span = ["-ss", f"{start_s:.6f}"] if start_s else []
    span += ["-t", f"{duration_s:.6f}"] if duration_s is not None else []
    run_ffmpeg(
        [
            *span,
            "-i",
            where,
            "-map",
            "0:a:0",
            "-vn",
            "-ac",
            "1",
            "-ar",
            str(SAMPLE_RATE),
            "-c:a",
            "pcm_s16le",
        ],
        out=out,
    )
    return out


def load_audio(wav: Path) -> np.ndarray:
    """The samples of a WAV written by `extract_audio`, as float32 in [-1, 1]."""
    import wave

    with wave.open(str(wav), "rb") as w:
        if w.getframerate() != SAMPLE_RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{wav} is not 16 kHz mono 16-bit PCM")
        pcm = w.readframes(w.getnframes())
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
