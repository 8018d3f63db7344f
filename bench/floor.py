"""The floor of one run: the work no orchestration can remove, each part measured alone with
vidp's own code (no Prefect) on one clip: the one decode that makes every picture, the audio
extraction, Whisper's transcript and the detector on the sampled frames, and the interpreter
with the libraries a run imports. Their CPU seconds over the usable cores bound the wall time
from below; the transcript and the encode that waits for it bound it too.

python bench/floor.py bench/out/clip-240s.mp4 --weights yolov8n_int8.tflite --out floor.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from gpu import one_decode, timed, write_srt

from vidp.audio import extract_audio, load_audio
from vidp.detect import detect_animals
from vidp.devices import usable_cores
from vidp.encode import frame_time
from vidp.probe import probe
from vidp.settings import get_settings
from vidp.speech import transcribe
from vidp.whisper_model import load_whisper, unload_whisper

# What a `vidp process` run imports before it works: its CLI, Prefect, and the flow's modules.
IMPORTS = "import vidp.cli, prefect, vidp.flows.process_video, ultralytics, faster_whisper, great_expectations"


def imports() -> dict[str, float]:
    """A new interpreter importing what a run imports, as a process of its own."""
    return timed(lambda: subprocess.run([sys.executable, "-c", IMPORTS], check=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vidp-floor-"))
    duration = probe(args.clip, get_settings().max_duration_s).duration_s
    srt = write_srt(work / "subs.srt", duration)
    parts: dict[str, Any] = {"imports": imports()}
    parts["audio"] = timed(lambda: extract_audio(args.clip, work / "audio.wav"))
    samples = load_audio(work / "audio.wav")
    # Loading each model is part of the floor: a run loads both.
    parts["transcript"] = timed(lambda: transcribe(samples, load_whisper("base"), None))
    unload_whisper()
    parts["one_decode"] = timed(lambda: one_decode(args.clip, work, srt, duration))
    frames = sorted((work / "one-frames").glob("*.jpg"))
    times = [frame_time(i, 1.0) for i in range(len(frames))]
    parts["detector"] = timed(lambda: detect_animals(frames, times, args.weights, 0.25))
    cores = usable_cores()
    cpu = sum(p["cpu_s"] for p in parts.values())
    path = parts["audio"]["wall_s"] + parts["transcript"]["wall_s"] + parts["one_decode"]["wall_s"]
    report = {
        "clip_s": duration,
        "cores": cores,
        "parts": parts,
        "cpu_s": round(cpu, 1),
        "floor_wall_s": round(max(cpu / cores, path), 1),
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
