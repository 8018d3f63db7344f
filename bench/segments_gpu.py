"""A long video's segments over 1, 2, 4 and 8 workers of one machine, without Prefect: issue 24's
curve for a GPU machine, as far as a lent one can run it (no Prefect server fits what a call
carries there, and Whisper cannot use its CUDA: bench/RESULTS.md, "GPU machine"). What the
Prefect part adds per segment is measured on the CPU machine (`bench/segments.py`).

Each segment is a new process, as Prefect's process worker runs each `process-segment` run:
its imports, its detector loaded (on CUDA where there is one), its part of the clip encoded as
`process-segment` encodes it (vidp's `encode_pass` with `Part`: the 480p rendition, the burned
480p final, 1 fps frames; x264 medium, CRF 23), then its frames through the detector. W workers
take segments from one queue, one at a time each, each pinned to an equal share of the cores.
Parallel efficiency at W: the one worker's wall / (W x this wall).

python bench/segments_gpu.py --weights yolov8n.pt --out curve.json
    [--clip clip.mp4 | --duration 240] [--segment-s 30] [--workers 1,2,4,8]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from gpu import CODEC, SIZE_480P, gpu_name, make_clip, write_srt

from vidp.devices import usable_cores
from vidp.encode import Encode, FrameSample, Part, encode_pass, frame_time
from vidp.segments import Segment, plan_segments, video_frames


def one_segment(clip: Path, segment: Segment, srt: Path, weights: str, work: Path) -> None:
    """What one segment's run does with its part of `clip` (this process: a new one)."""
    from vidp.detect import detect_animals, load_detector

    started = time.perf_counter()
    load_detector(weights)
    loaded = time.perf_counter()
    folder = work / f"part-{segment.index:03d}"
    made = encode_pass(
        clip,
        CODEC,
        [Encode(folder / "r.mp4", SIZE_480P), Encode(folder / "f.mp4", SIZE_480P, srt)],
        FrameSample(folder / "frames", 1.0, f"s{segment.index:04d}-"),
        part=Part(segment.seek_s, segment.frames),
    )
    encoded = time.perf_counter()
    times = [frame_time(i, 1.0) for i in range(len(made.frames))]
    detect_animals(made.frames, times, weights, 0.25)
    print(
        json.dumps(
            {
                "load_s": round(loaded - started, 2),
                "encode_s": round(encoded - loaded, 2),
                "detect_s": round(time.perf_counter() - encoded, 2),
                "device": load_detector(weights).device,
            }
        )
    )


def shares(workers: int) -> list[list[int]]:
    """This process's cores in `workers` equal, contiguous shares."""
    cores = sorted(os.sched_getaffinity(0))
    size = len(cores) // workers
    return [cores[i * size : (i + 1) * size] for i in range(workers)]


def spread(
    clip: Path, segments: list[Segment], srt: Path, weights: str, workers: int, work: Path
) -> dict[str, Any]:
    """Every segment, each in a new process, over `workers` workers; wall and CPU seconds."""
    todo: queue.Queue[Segment] = queue.Queue()
    for segment in segments:
        todo.put(segment)
    runs: list[dict[str, Any]] = []
    failed: list[BaseException] = []

    def worker(cores: list[int]) -> None:
        while not failed:
            try:
                segment = todo.get_nowait()
            except queue.Empty:
                return
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, __file__, "--one", segment.model_dump_json(), "--clip", str(clip)]
                + ["--srt", str(srt), "--weights", weights, "--work", str(work)]
                + ["--cores", ",".join(map(str, cores))],
                capture_output=True,
                text=True,
            )
            end = time.perf_counter()
            if done.returncode != 0:
                failed.append(RuntimeError(f"segment {segment.index}: {done.stderr[-2000:]}"))
                return
            run = json.loads(done.stdout.strip().splitlines()[-1])
            runs.append({"index": segment.index, "cores": len(cores), "start": start, "end": end})
            runs[-1].update(run)

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(share,)) for share in shares(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    runs.sort(key=lambda r: r["index"])
    for run in runs:
        run["start"], run["end"] = round(run["start"] - start, 2), round(run["end"] - start, 2)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--weights", required=True, help="YOLO weights (on CUDA where there is one)"
    )
    parser.add_argument("--clip", type=Path)
    parser.add_argument("--duration", type=int, default=240)
    parser.add_argument("--segment-s", type=float, default=30.0)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--out", type=Path, help="the JSON report (required)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a segment's process
    parser.add_argument("--srt", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cores", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # pinned before the detector's imports size their thread pools
        os.sched_setaffinity(0, [int(c) for c in args.cores.split(",")])
        segment = Segment.model_validate_json(args.one)
        one_segment(args.clip, segment, args.srt, args.weights, args.work)
        return
    if args.out is None:
        parser.error("--out is required")

    work = Path(tempfile.mkdtemp(prefix="vidp-segments-gpu-"))
    clip = args.clip or make_clip(work / "clip.mp4", args.duration)
    segments = plan_segments(video_frames(clip), [], args.segment_s)
    srt = write_srt(work / "subs.srt", args.segment_s)
    report: dict[str, Any] = {
        "gpu": gpu_name(),
        "cores": usable_cores(),
        "clip": str(clip),
        "segments": len(segments),
        "segment_s": args.segment_s,
        "curve": {},
    }
    for count in (int(n) for n in args.workers.split(",")):
        if count > usable_cores():
            continue
        report["curve"][count] = spread(clip, segments, srt, args.weights, count, work / str(count))
        one = report["curve"].get(1, {}).get("wall_s")
        if one:
            wall = report["curve"][count]["wall_s"]
            report["curve"][count]["efficiency"] = round(one / (count * wall), 3)
        print(count, {k: v for k, v in report["curve"][count].items() if k != "runs"}, flush=True)
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
