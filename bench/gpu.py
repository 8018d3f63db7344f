"""What a GPU worker does with vidp's own encode and model code, measured on the machine it runs
on (no Prefect): the encoder `VIDP_ENCODER=auto` chooses, one decode of the source against two at
this many cores, and the detector on CUDA against the CPU. Prints one JSON report.

python bench/gpu.py --weights yolov8n.pt --out report.json [--clip clip.mp4] [--whisper DIR]

Without `--clip` it makes a 60 s 1080p30 clip with grain and AAC audio. `--whisper` names a
faster-whisper model folder to transcribe the clip's audio with on CUDA, where CTranslate2 can.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from vidp.devices import usable_cores
from vidp.encode import (
    Encode,
    FrameSample,
    Thumbnails,
    VideoCodec,
    choose_encoder,
    encode_pass,
    frame_time,
    nvenc_available,
    thumbnail_times,
)
from vidp.ffmpeg import FfmpegError, ffmpeg_exe, run_ffmpeg
from vidp.subtitles import Cue, to_srt

SIZE_480P = (854, 480)
CODEC = VideoCodec("libx264", 23, "medium")
LATE_S = (0.0, 5.0, 15.0)  # when a GPU pool's transcript might arrive


def timed(work: Callable[[], Any]) -> dict[str, float]:
    """Wall seconds, and CPU seconds of this process and its finished children, for `work`."""
    before = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    start = time.perf_counter()
    work()
    wall = time.perf_counter() - start
    after = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(
        a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime
        for a, b in zip(after, before, strict=True)
    )
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}


def gpu_name() -> str:
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "none"
    return done.stdout.strip()


def make_clip(out: Path, duration_s: int) -> Path:
    """1080p30 with moving detail and per-frame grain, and AAC audio, as a camera would give."""
    run_ffmpeg(
        ["-f", "lavfi", "-i", f"testsrc2=s=1920x1080:r=30:d={duration_s}"]
        + ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:d={duration_s}"]
        + ["-vf", "noise=alls=12:allf=t+u", "-c:v", "libx264", "-preset", "veryfast"]
        + ["-b:v", "18M", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-shortest"],
        out=out,
    )
    return out


def encoder_choice() -> dict[str, Any]:
    """What `auto` picks, and what forcing NVENC says, on this machine."""
    forced: str
    try:
        forced = choose_encoder("h264_nvenc")
    except RuntimeError as e:
        forced = f"refused: {e}"
    reason = ""
    try:
        run_ffmpeg(
            ["-f", "lavfi", "-i", "color=black:s=256x256:d=0.1", "-c:v", "h264_nvenc"]
            + ["-f", "null", "-"]
        )
    except FfmpegError as e:
        reason = str(e).strip().splitlines()[-1][:300]
    return {
        "nvenc_available": nvenc_available(),
        "auto": choose_encoder("auto"),
        "forced_nvenc": forced,
        "ffmpeg_nvenc_error": reason,
    }


def write_srt(out: Path, duration_s: float) -> Path:
    """A line of subtitles every 4 s, as vidp writes them, for the burn to draw."""
    cues = [
        Cue(start=t, end=t + 3, lines=[f"A line of speech, {i}."])
        for i, t in enumerate(range(0, int(duration_s) - 3, 4), start=1)
    ]
    out.write_text(to_srt(cues), encoding="utf-8")
    return out


def one_decode(clip: Path, work: Path, srt: Path, duration_s: float) -> None:
    """What a run's one decode makes at the bench's settings, in `work`: the 480p rendition, the
    burned 480p final, 1 fps frames (`one-frames/`) and 5 thumbnails."""
    encode_pass(
        clip,
        CODEC,
        [Encode(work / "one-r.mp4", SIZE_480P), Encode(work / "one-f.mp4", SIZE_480P, srt)],
        FrameSample(work / "one-frames", 1.0),
        Thumbnails(work / "one-thumbs", thumbnail_times(duration_s, 5), (640, 360)),
        copy_audio=True,
    )


def encodes(clip: Path, work: Path, duration_s: float) -> dict[str, Any]:
    """The 480p rendition, the burned 480p final, 1 fps frames and 5 thumbnails: in one decode,
    and in two decodes side by side, the second starting when the transcript would arrive; and
    the rendition alone."""
    srt = write_srt(work / "subs.srt", duration_s)
    thumbs = thumbnail_times(duration_s, 5)

    def two(late_s: float) -> None:
        """The second decode starts when the transcript arrives, `late_s` after the first."""
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(
                encode_pass,
                clip,
                CODEC,
                [Encode(work / "two-r.mp4", SIZE_480P)],
                FrameSample(work / "two-frames", 1.0),
                Thumbnails(work / "two-thumbs", thumbs, (640, 360)),
                True,
            )
            time.sleep(late_s)
            second = pool.submit(
                encode_pass,
                clip,
                CODEC,
                [Encode(work / "two-f.mp4", SIZE_480P, srt)],
                None,
                None,
                True,
            )
            first.result(), second.result()

    def rendition() -> None:
        encode_pass(clip, CODEC, [Encode(work / "alone.mp4", SIZE_480P)], copy_audio=True)

    report = {
        "rendition_alone": timed(rendition),
        "one_decode": timed(lambda: one_decode(clip, work, srt, duration_s)),
    }
    # One decode that waits `late` for the transcript ends at late + one_decode's wall.
    for late in LATE_S:
        report[f"two_decodes_{late:g}s_late"] = timed(lambda late=late: two(late))
    return report


def detector(device: str, weights: str, frames: list[Path]) -> dict[str, Any]:
    """Load, warm up and run vidp's detector over `frames` in the flow's batches on `device`."""
    os.environ["VIDP_DEVICE"] = device
    from vidp import detect
    from vidp.settings import get_settings

    get_settings.cache_clear()
    detect._cached_detector.cache_clear()
    times = [frame_time(i, 1.0) for i in range(len(frames))]
    batch = get_settings().detect_batch_size
    report: dict[str, Any] = {"load": timed(lambda: detect.load_detector(weights))}
    report["first_frame"] = timed(
        lambda: detect.detect_animals(frames[:1], times[:1], weights, 0.25)
    )

    def run_all() -> None:
        for i in range(0, len(frames), batch):
            detect.detect_animals(frames[i : i + batch], times[i : i + batch], weights, 0.25)

    report[f"{len(frames)}_frames"] = timed(run_all)
    report["device"] = detect.load_detector(weights).device
    if device == "cuda":
        import torch

        report["gpu_peak_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return report


def whisper(model_dir: str | None, clip: Path) -> dict[str, Any]:
    """faster-whisper on CUDA needs CUDA 12's cuBLAS (CTranslate2 4): whether it is here, and the
    transcription's time when it is and a model was given."""
    try:
        ctypes.CDLL("libcublas.so.12")
    except OSError as e:
        return {"cublas12": False, "reason": str(e)}
    if model_dir is None:
        return {"cublas12": True, "reason": "no model given"}
    os.environ["VIDP_DEVICE"] = "cuda"
    from vidp.audio import extract_audio, load_audio
    from vidp.settings import get_settings
    from vidp.speech import transcribe
    from vidp.whisper_model import load_whisper

    get_settings.cache_clear()
    samples = load_audio(extract_audio(clip, clip.with_suffix(".wav")))
    report: dict[str, Any] = {"cublas12": True, "load": timed(lambda: load_whisper(model_dir))}
    report["transcribe"] = timed(lambda: transcribe(samples, load_whisper(model_dir), None))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True, help="YOLO .pt weights (run on CUDA)")
    parser.add_argument("--clip", type=Path)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--whisper")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vidp-gpu-"))
    report: dict[str, Any] = {
        "gpu": gpu_name(),
        "cores": usable_cores(),
        "ffmpeg": ffmpeg_exe(),
    }
    report["encoder"] = encoder_choice()
    clip = args.clip or make_clip(work / "clip.mp4", args.duration)
    report["encodes"] = encodes(clip, work, args.duration)
    frames = sorted((work / "one-frames").glob("*.jpg"))
    import torch

    devices = ("cuda", "cpu") if torch.cuda.is_available() else ("cpu",)
    report["detector"] = {d: detector(d, args.weights, frames) for d in devices}
    report["whisper"] = whisper(args.whisper, clip)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
