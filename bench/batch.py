"""A batch of short clips: `vidp process` with every path at once, and the same clips dropped in an
upload bucket and swept by one process worker, against the peers: `peer_batch.py` (one process,
models loaded once) and `peer_script.py` run once per clip. Whole processes measured from
outside (bench/measure.py); the sweep from the drop to the last manifest.

python bench/batch.py                 # 20 clips of 3-15 s: two without audio, one not a video

The batch (bench/out/batch/, made once): 19 clips like the bench's others (1080p30, grain, a cat,
English speech), 3 to 15 s long, each of its own length so that no two are the same video; two
of them without audio; and `broken.mp4`, text under a video's name, which vidp rejects. The peers
stop at a file they cannot read, so they get the 19 good ones.

The sweep: moto's S3 server, a `prefect server start` on PostgreSQL (PREFECT_API_URL set), `vidp
deploy` of the deployments it uses on a process pool, and one `prefect worker start` with
Prefect's default polling, all running before the drop. The clock starts as the upload begins;
then `prefect deployment run sweep-uploads/default`, as a user or the schedule would start it; it
stops when the last of the 19 manifests is in the results bucket.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from measure import measure
from run import (
    PEER,
    REPO,
    SETTINGS,
    Bench,
    _free_port,
    _make_clip,
    machine,
    stop,
    whisper_base,
)

BATCH = REPO / "bench" / "out" / "batch"
PEER_BATCH = PEER.with_name("peer_batch.py")
DURATIONS = [round(3 + 12 * i / 18, 2) for i in range(19)]  # 3 ... 15 s
SILENT = (4, 11)  # these have no audio track
POOL = "bench-cpu"


def make_batch() -> tuple[list[Path], Path]:
    """The 19 good clips and the broken one (made once)."""
    BATCH.mkdir(parents=True, exist_ok=True)
    good = []
    for i, duration in enumerate(DURATIONS):
        clip = BATCH / f"clip-{i:02d}-{duration:g}s.mp4"
        if not clip.exists():
            made = BATCH / "making.mp4"
            _make_clip(made, duration, 1080)
            if i in SILENT:
                subprocess.run(
                    [
                        "ffmpeg",
                        "-v",
                        "error",
                        "-y",
                        "-i",
                        str(made),
                        "-an",
                        "-c",
                        "copy",
                        str(clip),
                    ],
                    check=True,
                )
                made.unlink()
            else:
                made.replace(clip)
        good.append(clip)
    broken = BATCH / "broken.mp4"
    broken.write_text("not a video: a text file under a video's name\n")
    return good, broken


class BatchBench(Bench):
    """The peers and vidp on the batch, every measurement kept."""

    def measured(self, name: str, command: list[str], env: dict[str, str]) -> dict[str, Any]:
        log = self.logs / f"{name}-{len(self.runs.get(name, []))}.log"
        result = measure(command, env, log, cwd=REPO).as_dict()
        self.runs.setdefault(name, []).append(result)
        print(f"  {name:<16} {result}", flush=True)
        return result

    def peer_batch(self, clips: list[Path]) -> None:
        self.pause_servers()
        out = self.work / "peer-batch-out"
        shutil.rmtree(out, ignore_errors=True)
        command = [sys.executable, str(PEER_BATCH), *map(str, clips), "--out", str(out)]
        command += ["--whisper", self.whisper_dir, "--yolo", self.weights]
        command += ["--height", str(SETTINGS["height"]), "--crf", str(SETTINGS["crf"])]
        command += ["--preset", str(SETTINGS["preset"])]
        self.measured("peer_batch", command, self.env)

    def peer_per_clip(self, clips: list[Path]) -> None:
        """peer_script.py once per clip, one after another: the sums."""
        self.pause_servers()
        runs = []
        for clip in clips:
            out = self.work / "peer-out"
            shutil.rmtree(out, ignore_errors=True)
            command = [sys.executable, str(PEER), str(clip), str(out)]
            command += ["--whisper", self.whisper_dir, "--yolo", self.weights]
            command += ["--height", str(SETTINGS["height"]), "--crf", str(SETTINGS["crf"])]
            command += ["--preset", str(SETTINGS["preset"])]
            log = self.logs / "peer-per-clip.log"
            runs.append(measure(command, self.env, log, cwd=REPO).as_dict())
        total = {
            "wall_s": round(sum(r["wall_s"] for r in runs), 2),
            "cpu_s": round(sum(r["cpu_s"] for r in runs), 2),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "max_process_rss_mb": max(r["max_process_rss_mb"] for r in runs),
            "returncode": max(r["returncode"] for r in runs),
            "each_wall_s": [r["wall_s"] for r in runs],
        }
        self.runs.setdefault("peer_per_clip", []).append(total)
        print(f"  {'peer_per_clip':<16} {total}", flush=True)

    def vidp_batch(self, name: str, clips: list[Path], **env: str) -> None:
        """`vidp process` of every clip in one command, nothing reused."""
        self.pause_servers(but=("server",) if "PREFECT_API_URL" in env else ())
        fresh = Path(tempfile.mkdtemp(prefix="work-", dir=self.work))
        env = {**self.env, "VIDP_WORK_DIR": str(fresh), **env}
        out = self.work / f"{name}-out"
        self.measured(name, self.vidp_command(clips, out, cold=True), env)
        shutil.rmtree(fresh, ignore_errors=True)


class Sweep:
    """moto, the bench's Prefect server, the deployments and one process worker."""

    def __init__(self, bench: BatchBench) -> None:
        self.bench = bench
        port = _free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.env = {
            **bench.env,
            "PREFECT_API_URL": bench.api_url,
            "PREFECT_HOME": str(bench.work / "home-sweep"),
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
            "VIDP_CPU_POOL": POOL,
            "VIDP_WORK_DIR": str(bench.work / "work-sweep"),
        }
        moto = str(Path(sys.executable).with_name("moto_server"))
        self.moto = subprocess.Popen(
            [moto, "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.s3 = self._client()
        for bucket in ("uploads", "results"):
            self.s3.create_bucket(Bucket=bucket)
        bench.pause_servers(but=("server",))
        prefect = [sys.executable, "-m", "prefect"]
        self._call([*prefect, "work-pool", "create", POOL, "--type", "process", "--overwrite"])
        names = ("process-video/default", "process-batch/default", "sweep-uploads/default")
        self._call([sys.executable, "-m", "vidp.cli", "deploy", *(f"--name={n}" for n in names)])
        log = (bench.logs / "worker.log").open("w")
        self.worker = subprocess.Popen(
            [*prefect, "worker", "start", "--pool", POOL],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        time.sleep(5)  # the worker has polled once: "a worker already running"

    def _client(self) -> Any:
        import boto3

        for _ in range(100):
            try:
                client = boto3.client(
                    "s3",
                    endpoint_url=self.endpoint,
                    aws_access_key_id="bench",
                    aws_secret_access_key="bench",
                    region_name="us-east-1",
                )
                client.list_buckets()
                return client
            except Exception:  # not up yet
                time.sleep(0.2)
        raise RuntimeError("moto did not start")

    def _call(self, command: list[str]) -> None:
        done = subprocess.run(command, cwd=REPO, env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")

    def run(self, name: str, clips: list[Path], expected: int) -> None:
        """Drop `clips`, start a sweep, wait for `expected` manifests."""
        self.bench.pause_servers(but=("server",))
        n = len(self.bench.runs.get(name, []))
        prefix, output = f"{name}-{n}/", f"s3://results/{name}-{n}"
        tree = psutil.Process(self.worker.pid)
        cpu_before = sum(tree.cpu_times()[:4])
        start = time.perf_counter()
        for clip in clips:
            self.s3.upload_file(str(clip), "uploads", prefix + clip.name)
        self._call(
            [sys.executable, "-m", "prefect", "deployment", "run", "sweep-uploads/default"]
            + ["-p", f"uploads=s3://uploads/{prefix}", "-p", f"output={output}"]
        )
        found = 0
        while found < expected:
            time.sleep(0.5)
            listed = self.s3.list_objects_v2(Bucket="results", Prefix=f"{name}-{n}/")
            found = sum(o["Key"].endswith("manifest.json") for o in listed.get("Contents", []))
            if time.perf_counter() - start > 3600:
                raise RuntimeError(f"{name}: {found} of {expected} manifests after an hour")
        wall = time.perf_counter() - start
        # The worker's runs count once they have exited and it has waited for them.
        psutil.wait_procs(tree.children(recursive=True), timeout=120)
        cpu = sum(tree.cpu_times()[:4]) - cpu_before
        result = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "manifests": found}
        self.bench.runs.setdefault(name, []).append(result)
        print(f"  {name:<16} {result}", flush=True)

    def stop(self) -> None:
        for process in (self.worker, self.moto):
            stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--only", default="peer_batch,peer_per_clip,cli,server,sweep", help="what to run"
    )
    parser.add_argument("--json-out", type=Path, default=REPO / "bench" / "out" / "batch.json")
    parser.add_argument("--vidp", default=str(Path(sys.executable).with_name("vidp")))
    args = parser.parse_args()
    only = set(args.only.split(","))
    # Started in the background by a shell, this process ignores SIGINT, and so would the worker
    # it starts, which then does not stop on SIGTERM either (docs/operations.md#stopping-workers).
    signal.signal(signal.SIGINT, signal.SIG_DFL)

    weights = os.environ.get("VIDP_DETECTOR_WEIGHTS", "yolo11n.pt")
    whisper_dir = whisper_base()
    good, broken = make_batch()
    batch = [*good[:10], broken, *good[10:]]
    work = Path(tempfile.mkdtemp(prefix="vidp-bench-batch-"))
    logs = REPO / "bench" / "out" / "logs" / time.strftime("batch-%Y%m%d-%H%M%S")
    logs.mkdir(parents=True, exist_ok=True)
    bench = BatchBench(good[0], work, logs, weights, whisper_dir, args.vidp)
    sweep = None
    try:
        if "cli" in only:
            bench.warm_up()
        if "server" in only or "sweep" in only:
            bench.start_server()
        if "sweep" in only:
            sweep = Sweep(bench)
        for round_ in range(args.rounds):
            print(f"round {round_ + 1} of {args.rounds}", flush=True)
            if "peer_batch" in only:
                bench.peer_batch(good)
            if "peer_per_clip" in only:
                bench.peer_per_clip(good)
            if "cli" in only:
                bench.vidp_batch("cli", batch, PREFECT_HOME=str(work / "home-cli"))
            if "server" in only:
                home = str(work / "home-client")
                bench.vidp_batch("server", batch, PREFECT_HOME=home, PREFECT_API_URL=bench.api_url)
            if sweep is not None:
                sweep.run("sweep", batch, expected=len(good))
    finally:
        if sweep is not None:
            sweep.stop()
        bench.stop()
        shutil.rmtree(work, ignore_errors=True)
    results = {
        "clips": [c.name for c in batch],
        "durations_s": DURATIONS,
        "settings": SETTINGS,
        "machine": machine(bench.env),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "runs": bench.runs,
    }
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(results) + "\n")
    print(json.dumps(bench.runs, indent=1))


if __name__ == "__main__":
    main()
