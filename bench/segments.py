"""One long video over several workers, against one worker: the 4 min clip (the bench's 60 s
clip four times, 1080p30) through `process-video/default` on process workers each pinned to a
core of its own with `taskset`, as a user runs them.

python bench/segments.py                       # 1 worker whole, then 2 workers in 60 s segments
python bench/segments.py --workers 1,2,4,8     # a machine with more cores (one run each)

Setup: the bench's Prefect server (on PostgreSQL), the process pool `bench-segments`, `vidp
deploy` of process-video and process-segment on it. One worker: pinned to core 0, one run at a
time (`--limit 1`), it processes the video as one run, as vidp did before segments. N workers:
each pinned to core i and taking segments only, one at a time (`--work-queue segments --limit
1`), and one more worker, not pinned, for the pool's other queue, where the process-video run
that spreads the video waits for its segments (a slot, no CPU while it waits: docs/deploy.md).
The workers share one work folder (one machine) and poll at Prefect's default
(PREFECT_WORKER_QUERY_SECONDS, 10 s) unless `--query-s` says.

Each scenario starts its workers fresh, then one run with the bench's settings (480p, burned
subtitles, Whisper base, YOLO at 1 fps, CRF 23, preset medium), a new work folder and Prefect's
cache refreshed (PREFECT_TASKS_REFRESH_CACHE on the workers), so nothing comes from a cache: not
even the audio and the ingest the one worker's run made before. The clock runs from `run_deployment` to the end of the run as the API
reports it. Reported: wall and the workers' CPU seconds; and from Prefect's own timestamps,
where the spread run's time went: until the last segment run was created (ingest, probe,
audio, planning), each segment run's wait for a worker and its own time, and after the last
segment's end (the join, the quality gate, publishing). And against the one worker's run: the
final video's frames (packets) and the transcript's words (edit distance over the one run's
words: issue 24's target is 2 %).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import psutil
from run import REPO, SETTINGS, Bench, _make_clip, machine, stop, whisper_base

POOL = "bench-segments"
OUT = REPO / "bench" / "out"


def four_minutes() -> Path:
    """The 60 s clip four times, joined without re-encoding (made once)."""
    clip = OUT / "clip-4x60s.mp4"
    if clip.exists():
        return clip
    one = OUT / "clip-60s.mp4"
    if not one.exists():
        _make_clip(one, 60, 1080)
    listing = OUT / "four.ffconcat"
    listing.write_text("ffconcat version 1.0\n" + f"file '{one}'\n" * 4)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing)]
        + ["-c", "copy", "-movflags", "+faststart", str(clip)],
        check=True,
    )
    return clip


class Pool:
    """The bench's server, the pool and its deployments; workers started per scenario."""

    def __init__(self, bench: Bench, query_s: float | None) -> None:
        self.bench = bench
        bench.start_server()
        self.env = {
            **bench.env,
            "PREFECT_API_URL": bench.api_url,
            "PREFECT_HOME": str(bench.work / "home-pool"),
            "VIDP_CPU_POOL": POOL,
            "VIDP_WHISPER_MODEL": bench.whisper_dir,
            "PREFECT_TASKS_REFRESH_CACHE": "true",
        }
        if query_s is not None:
            self.env["PREFECT_WORKER_QUERY_SECONDS"] = str(query_s)
        prefect = [sys.executable, "-m", "prefect"]
        self._call([*prefect, "work-pool", "create", POOL, "--type", "process", "--overwrite"])
        names = ("process-video/default", "process-segment/default")
        self._call([sys.executable, "-m", "vidp.cli", "deploy", *(f"--name={n}" for n in names)])
        self.workers: list[subprocess.Popen[bytes]] = []

    def _call(self, command: list[str]) -> None:
        done = subprocess.run(command, cwd=REPO, env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")

    def start_workers(self, count: int, work_dir: Path) -> None:
        """One worker pinned to core 0 for the whole pool; or `count` pinned to cores 0 ..
        count - 1 for segments, and one for the rest, not pinned. All share `work_dir`."""
        cores = psutil.cpu_count() or 1
        take = ["--limit", "1"]
        commands = [
            ["taskset", "-c", str(i % cores), *self._worker(f"w{i}"), *take] for i in range(count)
        ]
        if count > 1:
            commands = [[*c, "--work-queue", "segments"] for c in commands]
            commands.append(self._worker("runs") + ["--work-queue", "default"])
        for command in commands:
            log = (self.bench.logs / f"worker-{count}-{len(self.workers)}.log").open("w")
            self.workers.append(
                subprocess.Popen(
                    command,
                    cwd=REPO,
                    env={**self.env, "VIDP_WORK_DIR": str(work_dir)},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        time.sleep(12)  # each has polled once: workers already running, as in production

    @staticmethod
    def _worker(name: str) -> list[str]:
        return [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--name", name]

    def workers_cpu_s(self) -> float:
        total = 0.0
        for worker in self.workers:
            tree = psutil.Process(worker.pid)
            psutil.wait_procs(tree.children(recursive=True), timeout=120)
            total += sum(tree.cpu_times()[:4])
        return total

    def stop_workers(self) -> None:
        for worker in self.workers:
            stop(worker)
        self.workers = []


def run_once(pool: Pool, clip: Path, segment_s: float, out: Path) -> dict[str, Any]:
    """One process-video run of `clip`, timed from its creation to its end."""
    os.environ.update({"PREFECT_API_URL": pool.bench.api_url})
    from prefect.deployments import run_deployment
    from prefect.flow_runs import wait_for_flow_run

    options = {
        "resolutions": [f"{SETTINGS['height']}p"],
        "crf": SETTINGS["crf"],
        "preset": SETTINGS["preset"],
        "subtitles": "burn",
        "sample_fps": 1.0,
        "whisper_model": pool.bench.whisper_dir,
        "segment_s": segment_s,
    }
    start = time.perf_counter()
    run = run_deployment(
        "process-video/default",
        parameters={"source": str(clip), "output": str(out), "options": options},
        timeout=0,
    )
    run = asyncio.run(wait_for_flow_run(run.id, timeout=None))
    wall = time.perf_counter() - start
    if not run.state or not run.state.is_completed():
        raise RuntimeError(f"the run ended {run.state}")
    return {"wall_s": round(wall, 2), **breakdown(run)}


def breakdown(parent: Any) -> dict[str, Any]:
    """Where the run's time went, from Prefect's timestamps."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
            )
        )
    picked = {"run_pickup_s": _s(parent.start_time, parent.expected_start_time)}
    if not children:
        return {**picked, "run_s": _s(parent.end_time, parent.start_time)}
    segments = sorted(children, key=lambda r: r.start_time)
    return {
        **picked,
        "segments": len(segments),
        "until_dispatched_s": _s(max(r.created for r in segments), parent.start_time),
        "segment_pickup_s": [_s(r.start_time, r.created) for r in segments],
        "segment_run_s": [_s(r.end_time, r.start_time) for r in segments],
        "segments_span_s": _s(
            max(r.end_time for r in segments), min(r.start_time for r in segments)
        ),
        "after_segments_s": _s(parent.end_time, max(r.end_time for r in segments)),
    }


def outputs(out: Path) -> dict[str, Any]:
    """The final video's frame count and the transcript's words of the run published to `out`."""
    from vidp.speech import Transcript

    manifest = json.loads(next(out.glob("*/manifest.json")).read_text())
    with av.open(manifest["final_video"]["uri"]) as container:
        frames = sum(1 for p in container.demux(video=0) if p.size)
    text = Transcript.load(Path(manifest["transcript"]["uri"]))
    said = [w.word.strip().lower().strip(".,!?¡¿") for s in text.segments for w in s.words]
    return {"frames": frames, "words": said}


def word_edits(a: list[str], b: list[str]) -> int:
    """Levenshtein distance over words: the clip repeats itself, which misleads difflib."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def _s(a: datetime | None, b: datetime | None) -> float | None:
    return round((a - b).total_seconds(), 2) if a and b else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--segment-s", type=float, default=60.0)
    parser.add_argument("--query-s", type=float, help="PREFECT_WORKER_QUERY_SECONDS of the workers")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    clip = four_minutes()
    work = OUT / "segments-work"
    shutil.rmtree(work, ignore_errors=True)
    bench = Bench(
        clip,
        work,
        work / "logs",
        weights=str(Path(os.environ["VIDP_DETECTOR_WEIGHTS"])),
        whisper_dir=whisper_base(),
        vidp=str(Path(sys.executable).with_name("vidp")),
    )
    pool = Pool(bench, args.query_s)
    results: dict[str, Any] = {}
    published: dict[str, dict[str, Any]] = {}  # the first scenario's outputs, to compare with
    try:
        for count in (int(n) for n in args.workers.split(",")):
            name = f"{count}-workers"
            pool.start_workers(count, work / f"work-{name}")
            cpu_before = pool.workers_cpu_s()
            # One worker processes the video as one run, as it would unsegmented; more spread it.
            segment_s = 0.0 if count == 1 else args.segment_s
            result = run_once(pool, clip, segment_s, work / f"out-{name}")
            result["cpu_s"] = round(pool.workers_cpu_s() - cpu_before, 2)
            pool.stop_workers()
            made = outputs(work / f"out-{name}")
            result["frames"] = made["frames"]
            if (whole := published.setdefault("whole", made)) is not made:
                result["words_changed_pct"] = round(
                    100 * word_edits(whole["words"], made["words"]) / len(whole["words"]), 2
                )
            results[name] = result
            print(f"  {name:<10} {json.dumps(result)}", flush=True)
    finally:
        pool.stop_workers()
        bench.stop()
    one = results.get("1-workers", {}).get("wall_s")
    summary = {
        "clip": str(clip),
        "segment_s": args.segment_s,
        "query_s": args.query_s or 10,
        "runs": results,
        "speedup": {k: round(one / v["wall_s"], 3) for k, v in results.items()} if one else {},
        "machine": machine(bench.env),
    }
    print(json.dumps(summary, indent=1))
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
