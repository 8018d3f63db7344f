"""The pipeline's work done naively: one step after another, each re-reading the source.

Same libraries and models as the pipeline (PyAV, ffmpeg, Ultralytics YOLO, faster-whisper `base`,
vidp's subtitle rules), none of its optimisations: a seek and a full-size image per detected
frame, the audio extracted twice, transcription without VAD, a second encode to burn the
subtitles in, one ffmpeg process per thumbnail. Libraries are imported before timing; model loads
are timed.

Detector weights come from VIDP_DETECTOR_WEIGHTS, as for the pipeline itself.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import av
import numpy as np
from faster_whisper import decode_audio

from vidp.detect import ANIMAL_LABELS  # sets YOLO_VERBOSE=False, read by Ultralytics at import
from vidp.devices import resolve_device
from vidp.encode import subtitle_font, target_size
from vidp.ffmpeg import ffmpeg_exe
from vidp.options import ProcessOptions
from vidp.settings import get_settings
from vidp.speech import Segment, Word
from vidp.subtitles import build_cues, to_srt
from vidp.whisper_model import load_whisper

from ultralytics import YOLO  # isort: skip (after vidp.detect)

from common import parse_args, report

X264 = ["-c:v", "libx264", "-preset", "medium", "-crf", "23", "-pix_fmt", "yuv420p"]
AAC = ["-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart"]
SAMPLE_RATE = 16_000
MIN_CONFIDENCE = 0.5
THUMBNAILS = 4
SUBTITLE_STYLE = "FontName=DejaVu Sans,FontSize=20,Outline=1.5,Shadow=0,MarginV=18"

T = TypeVar("T")


def ffmpeg(*args: str, cwd: Path | None = None) -> None:
    """Run ffmpeg; raise on failure."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    subprocess.run(cmd, check=True, cwd=cwd)


def probe(source: Path) -> dict[str, Any]:
    """Duration, size and audio presence, from PyAV."""
    with av.open(str(source)) as container:
        video = container.streams.video[0]
        return {
            "duration_s": container.duration / av.time_base,
            "width": video.codec_context.width,
            "height": video.codec_context.height,
            "has_audio": bool(container.streams.audio),
        }


def detect(source: Path, duration_s: float, work: Path) -> list[str]:
    """One seek, one full-size PNG and one prediction per second; the animal labels seen."""
    model = YOLO(ProcessOptions().detector_weights, task="detect")
    device = "cuda:0" if resolve_device(get_settings().device) == "cuda" else "cpu"
    labels: set[str] = set()
    for t in range(int(duration_s)):
        frame = work / f"frame_{t:04d}.png"
        ffmpeg("-ss", str(t), "-i", str(source), "-frames:v", "1", str(frame))
        result = model.predict(str(frame), conf=MIN_CONFIDENCE, device=device, verbose=False)[0]
        labels |= {result.names[int(c)] for c in result.boxes.cls.tolist()} & ANIMAL_LABELS
    return sorted(labels)


def read_audio(source: Path, wav: Path) -> np.ndarray:
    """Extract the audio to a 16 kHz mono WAV and read it back as samples."""
    ffmpeg("-i", str(source), "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), str(wav))
    return decode_audio(str(wav), sampling_rate=SAMPLE_RATE)


def language(source: Path, work: Path) -> str:
    """Whisper's guess from the first 30 s of audio."""
    audio = read_audio(source, work / "language.wav")
    code, _, _ = load_whisper("base").detect_language(audio=audio[: 30 * SAMPLE_RATE])
    return code


def transcribe(source: Path, work: Path, code: str) -> list[Segment]:
    """Extract the audio again and transcribe all of it, without VAD."""
    audio = read_audio(source, work / "transcribe.wav")
    segments, _ = load_whisper("base").transcribe(audio, language=code, word_timestamps=True)
    return [
        Segment(
            start=s.start,
            end=s.end,
            text=s.text.strip(),
            words=[
                Word(start=w.start, end=w.end, word=w.word, probability=w.probability)
                for w in s.words or []
            ],
        )
        for s in segments
        if s.text.strip()
    ]


def write_srt(segments: list[Segment], duration_s: float, out: Path) -> int:
    """Subtitle cues by vidp's rules, as SRT; return how many."""
    cues = build_cues(segments, duration_s)
    out.write_text(to_srt(cues), encoding="utf-8")
    return len(cues)


def downscale(source: Path, out: Path, size: tuple[int, int]) -> Path:
    """The 480p rendition."""
    ffmpeg("-i", str(source), "-vf", f"scale={size[0]}:{size[1]}", *X264, *AAC, str(out))
    return out


def burn(rendition: Path, srt: Path, out: Path) -> Path:
    """Encode the rendition again with the subtitles burned in (run in the SRT's folder)."""
    fonts = srt.parent / "fonts"
    fonts.mkdir(exist_ok=True)
    shutil.copy(subtitle_font(), fonts)
    vf = f"subtitles=filename={srt.name}:fontsdir=fonts:force_style='{SUBTITLE_STYLE}'"
    ffmpeg("-i", str(rendition), "-vf", vf, *X264, *AAC, str(out), cwd=srt.parent)
    return out


def thumbnails(source: Path, duration_s: float, size: tuple[int, int], work: Path) -> list[Path]:
    """Evenly spaced JPEGs, one ffmpeg process each."""
    outs = []
    for i in range(THUMBNAILS):
        out = work / f"thumb_{i + 1:02d}.jpg"
        at = f"{(i + 0.5) * duration_s / THUMBNAILS:.3f}"
        scale = f"scale={size[0]}:{size[1]}"
        ffmpeg("-ss", at, "-i", str(source), "-frames:v", "1", "-vf", scale, "-q:v", "3", str(out))
        outs.append(out)
    return outs


def main() -> None:
    args = parse_args(__doc__)
    source = args.source
    steps: dict[str, float] = {}

    def step(name: str, fn: Callable[..., T], *fn_args: Any) -> T:
        start = time.perf_counter()
        value = fn(*fn_args)
        steps[name] = round(time.perf_counter() - start, 3)
        print(f"  {name:<14} {steps[name]:8.2f} s", flush=True)
        return value

    print("steps:")
    with tempfile.TemporaryDirectory(prefix="vidp-bench-naive-") as name:
        work = Path(name)
        start = time.perf_counter()
        media = step("probe", probe, source)
        duration_s, w, h = media["duration_s"], media["width"], media["height"]
        animals = step("detection", detect, source, duration_s, work)
        code = step("language", language, source, work)
        segments = step("transcription", transcribe, source, work, code)
        srt = work / "subtitles.srt"
        cues = step("subtitles", write_srt, segments, duration_s, srt)
        rendition = work / "rendition-480p.mp4"
        step("rendition", downscale, source, rendition, target_size(w, h, "480p"))
        step("final_video", burn, rendition, srt, work / "final.mp4")
        step("thumbnails", thumbnails, source, duration_s, target_size(w, h, "360p"), work)
        total_s = time.perf_counter() - start

    print(f"total: {total_s:.2f} s")
    summary = {
        "benchmark": "naive",
        "source": str(source),
        "media": media,
        "total_s": round(total_s, 3),
        "steps_s": steps,
        "language": code,
        "words": sum(len(s.words) for s in segments),
        "cues": cues,
        "animals": animals,
        "detector_weights": ProcessOptions().detector_weights,
    }
    report(summary, args.json_out)


if __name__ == "__main__":
    main()
