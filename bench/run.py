"""The benchmark: `vidp process` against the peer script (../shared/bench/peer_script.py), each
run as a user runs it and measured from outside as a whole process (bench/measure.py): wall
seconds, user+system CPU seconds, peak resident memory, imports and Prefect start-up included.

Rounds alternate: the peer, then each `vidp process` scenario once, `--pairs` times; the figures
are medians. Same settings for both: 480p, burned subtitles, whisper `base`, YOLO at 1 fps,
CRF 23, preset medium.

Scenarios (cold runs use --refresh-cache and a fresh work folder, so nothing is reused; each but
`first` is followed by a re-run of the same video and options, `rerun-<scenario>`):
  cli     no Prefect server running; a PREFECT_HOME used before (Prefect's ephemeral API)
  local   `prefect server start --background` running, PREFECT_API_URL unset: the CLI finds it
  server  a `prefect server start` (on PostgreSQL) running, PREFECT_API_URL set (how workers run)
  first   a new user's first command: an empty PREFECT_HOME, no server

python bench/run.py --duration 60 --pairs 3
python bench/run.py --duration 240 --scenarios cli,server --timeline bench/timeline-after.png
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psutil
from make_clip import clip_path
from measure import measure

REPO = Path(__file__).resolve().parents[1]
PEER = REPO.parent / "shared" / "bench" / "peer_script.py"
SCENARIOS = ("cli", "local", "server", "first")
SETTINGS = {"height": 480, "crf": 23, "preset": "medium"}
_FIGURES = ("wall_s", "cpu_s", "peak_rss_mb", "max_process_rss_mb")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_clip(out: Path, duration_s: float, height: int) -> None:
    """bench/make_clip.py in its own process: this one stays small, so the processes it starts do
    not inherit a large peak resident size from it."""
    script = str(Path(__file__).with_name("make_clip.py"))
    command = [sys.executable, script, str(out), "--duration", str(duration_s)]
    subprocess.run([*command, "--height", str(height)], check=True, capture_output=True)


def _base_env(weights: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "VIDP_"))}
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"  # these machines are offline
    env["VIDP_DETECTOR_WEIGHTS"] = weights
    if shutil.which("ffmpeg", path=env.get("PATH")) is None:  # the peer calls `ffmpeg`
        import imageio_ffmpeg

        bindir = Path(tempfile.mkdtemp(prefix="vidp-bench-ffmpeg-"))
        (bindir / "ffmpeg").symlink_to(imageio_ffmpeg.get_ffmpeg_exe())
        env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    return env


class Bench:
    """Runs the peer and the scenarios on one clip, keeping every measurement."""

    def __init__(
        self, clip: Path, work: Path, logs: Path, weights: str, whisper_dir: str, vidp: str
    ) -> None:
        self.clip, self.work, self.logs, self.vidp = clip, work, logs, vidp
        logs.mkdir(parents=True, exist_ok=True)
        self.env = _base_env(weights)
        self.weights, self.whisper_dir = weights, whisper_dir
        self.runs: dict[str, list[dict[str, Any]]] = {}
        self.server: subprocess.Popen[bytes] | None = None
        self.api_url = ""
        self.spans: list[dict[str, Any]] = []
        self.local_port, self.local_env = "", {}
        self._postgres = ExitStack()

    def _record(self, name: str, command: list[str], env: dict[str, str]) -> dict[str, Any]:
        n = len(self.runs.setdefault(name, []))
        log = self.logs / f"{name}-{n}.log"
        result = measure(command, env, log, cwd=REPO).as_dict()
        if result["returncode"] != 0:
            raise RuntimeError(f"{name} failed: {log.read_text()[-3000:]}")
        self.runs[name].append(result)
        print(f"  {name:<13} {result}", flush=True)
        return result

    def peer(self) -> None:
        self.pause_servers()
        out = self.work / "peer-out"
        shutil.rmtree(out, ignore_errors=True)
        command = [sys.executable, str(PEER), str(self.clip), str(out)]
        command += ["--whisper", self.whisper_dir, "--yolo", self.weights]
        command += ["--height", str(SETTINGS["height"]), "--crf", str(SETTINGS["crf"])]
        command += ["--preset", str(SETTINGS["preset"])]
        self._record("peer", command, self.env)

    def vidp_command(self, clips: list[Path], out: Path, cold: bool) -> list[str]:
        """`vidp process` of `clips` with the bench's settings; `cold`: nothing reused."""
        command = [self.vidp, "process", *map(str, clips), "--output", str(out), "--json"]
        command += ["--resolution", f"{SETTINGS['height']}p", "--subtitles", "burn"]
        command += ["--crf", str(SETTINGS["crf"]), "--preset", str(SETTINGS["preset"])]
        command += ["--sample-fps", "1", "--whisper-model", "base"]
        return command + (["--refresh-cache"] if cold else [])

    def _vidp(self, name: str, home: Path, work_dir: Path, cold: bool, **env: str) -> None:
        env = {**self.env, "PREFECT_HOME": str(home), "VIDP_WORK_DIR": str(work_dir), **env}
        self._record(name, self.vidp_command([self.clip], self.work / "vidp-out", cold), env)

    def _servers(self) -> dict[str, list[psutil.Process]]:
        """The processes of each server the bench started, by the scenario that uses it."""
        found: dict[str, list[psutil.Process]] = {}
        roots = {"server": self.server.pid if self.server else None}
        if self.local_env:
            pid_file = Path(self.local_env["PREFECT_HOME"]) / "server.pid"
            roots["local"] = int(pid_file.read_text())
        for name, pid in roots.items():
            if pid is not None:
                root = psutil.Process(pid)
                found[name] = [root, *root.children(recursive=True)]
        return found

    def pause_servers(self, but: tuple[str, ...] = ()) -> None:
        """Stop (SIGSTOP) every server but those of the scenarios `but`: an idle Prefect
        server's services still take CPU, which would slow whatever is measured beside it."""
        for name, processes in self._servers().items():
            for process in processes:
                if name in but:
                    process.resume()
                else:
                    process.suspend()

    def scenario(self, name: str, timeline: tuple[Path, str] | None = None) -> None:
        """One run of scenario `name` (and its re-run); `timeline`: draw the cold `server`
        run's tasks to this file, with this title."""
        self.pause_servers(but=(name,))
        fresh = Path(tempfile.mkdtemp(prefix="work-", dir=self.work))
        if name == "cli":
            self._vidp("cli", self.work / "home-cli", fresh, cold=True)
            self._vidp("rerun-cli", self.work / "home-cli", fresh, cold=False)
        elif name == "local":
            home, port = self.work / "home-local", self.local_port
            self._vidp("local", home, fresh, cold=True, PREFECT_SERVER_API_PORT=port)
            self._vidp("rerun-local", home, fresh, cold=False, PREFECT_SERVER_API_PORT=port)
        elif name == "server":
            home, api = self.work / "home-client", self.api_url
            self._vidp("server", home, fresh, cold=True, PREFECT_API_URL=api)
            if timeline:
                self.spans = self.timeline(*timeline)
            self._vidp("rerun-server", home, fresh, cold=False, PREFECT_API_URL=api)
        elif name == "first":
            new_home = Path(tempfile.mkdtemp(prefix="home-first-", dir=self.work))
            self._vidp("first", new_home, fresh, cold=True)
        shutil.rmtree(fresh, ignore_errors=True)

    def warm_up(self) -> None:
        """The `cli` home has been used before: one run on a 1 s clip, not measured."""
        tiny = self.work / "tiny.mp4"
        _make_clip(tiny, 1, 180)
        env = {**self.env, "PREFECT_HOME": str(self.work / "home-cli")}
        env["VIDP_WORK_DIR"] = str(self.work / "work-warmup")
        done = subprocess.run(
            [self.vidp, "process", str(tiny), "--output", str(self.work / "warm"), "--json"],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the warm-up run failed: {done.stderr[-3000:]}")

    def start_server(self) -> None:
        """`prefect server start` on a PostgreSQL database of its own, as a server that outlives
        one run should be (on SQLite, concurrent runs get `database is locked`)."""
        sys.path.insert(0, str(REPO / "tests"))
        from helpers.postgres import create_database, postgres_server

        postgres = self._postgres.enter_context(postgres_server())
        database = create_database(postgres.url, "bench")
        port = _free_port()
        env = {
            **self.env,
            "PREFECT_HOME": str(self.work / "home-server"),
            "PREFECT_API_DATABASE_CONNECTION_URL": database.replace(
                "postgresql:", "postgresql+asyncpg:"
            ),
        }
        log = (self.logs / "server.log").open("w")
        prefect = str(Path(sys.executable).with_name("prefect"))
        self.server = subprocess.Popen(
            [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.api_url = f"http://127.0.0.1:{port}/api"
        import httpx

        for _ in range(600):
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the Prefect server did not start")

    def start_local(self) -> None:
        """`prefect server start --background`, as the README has users start one for repeated
        local runs; `vidp process` finds it at PREFECT_SERVER_API_PORT without PREFECT_API_URL."""
        self.local_port = str(_free_port())
        self.local_env = {
            **self.env,
            "PREFECT_HOME": str(self.work / "home-local"),
            "PREFECT_SERVER_API_PORT": self.local_port,
        }
        prefect = str(Path(sys.executable).with_name("prefect"))
        subprocess.run([prefect, "server", "start", "--background"], env=self.local_env, check=True)
        subprocess.run(
            [prefect, "server", "status", "--wait", "--timeout", "120"],
            env={**self.local_env, "PREFECT_API_URL": f"http://127.0.0.1:{self.local_port}/api"},
            check=True,
            capture_output=True,
        )

    def timeline(self, out: Path, title: str) -> list[dict[str, Any]]:
        """The newest process-video run on the bench's server, drawn to `out` (by
        bench/timeline.py in its own process, for the reason `_make_clip` gives)."""
        rows = self.work / "timeline.json"
        script = str(Path(__file__).with_name("timeline.py"))
        subprocess.run(
            [sys.executable, script, "latest", str(out), "--title", title, "--rows", str(rows)],
            env={**self.env, "PREFECT_API_URL": self.api_url},
            check=True,
            capture_output=True,
        )
        return json.loads(rows.read_text())

    def stop(self) -> None:
        self.pause_servers(but=("server", "local"))
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=30)
        self._postgres.close()
        if self.local_env:
            prefect = str(Path(sys.executable).with_name("prefect"))
            subprocess.run([prefect, "server", "stop"], env=self.local_env, capture_output=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate `process`, killed if it has not ended within 30 s."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def whisper_base() -> str:
    """The folder of whisper `base` the peers load (vidp's packaged copy), found in a process
    of its own for the reason `_make_clip` gives."""
    script = "from vidp.whisper_model import resolve_whisper_model as r; print(r('base'))"
    found = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    )
    return found.stdout.strip()


def _median(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {k: round(statistics.median(r[k] for r in runs), 2) for k in _FIGURES}


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians of every name, and each vidp scenario's ratios to the peer."""
    medians = {name: _median(r) for name, r in runs.items()}
    peer = medians.get("peer")
    ratios = {
        name: {k: round(m[k] / peer[k], 3) for k in _FIGURES}
        for name, m in medians.items()
        if name != "peer" and peer
    }
    return {"medians": medians, "ratios_to_peer": ratios}


def machine(env: dict[str, str]) -> dict[str, Any]:
    """This machine, and the ffmpeg the runs find on `env`'s PATH."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    ffmpeg = subprocess.run(["ffmpeg", "-version"], env=env, capture_output=True, text=True).stdout
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "ffmpeg": ffmpeg.split("\n", 1)[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=60.0, help="clip seconds (made if missing)"
    )
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument(
        "--scenarios", default="cli,local,server,first", help=f"of {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--timeline", type=Path, help="draw the first `server` run's tasks here")
    parser.add_argument("--label", default="", help="a note saved with the results")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument(
        "--vidp",
        default=str(Path(sys.executable).with_name("vidp")),
        help="the `vidp` command to measure (another version's, for an A/B)",
    )
    parser.add_argument(
        "--no-peer", action="store_true", help="measure vidp alone (an A/B of two versions)"
    )
    args = parser.parse_args()

    weights = os.environ.get("VIDP_DETECTOR_WEIGHTS", "yolo11n.pt")
    whisper_dir = whisper_base()

    clip = clip_path(args.duration)
    if not clip.exists():
        _make_clip(clip, args.duration, 1080)
    scenarios = [s for s in args.scenarios.split(",") if s]
    work = Path(tempfile.mkdtemp(prefix="vidp-bench-"))
    logs = REPO / "bench" / "out" / "logs" / time.strftime("%Y%m%d-%H%M%S")
    bench = Bench(clip, work, logs, weights, whisper_dir, args.vidp)
    try:
        if "cli" in scenarios:
            bench.warm_up()
        if "server" in scenarios:
            bench.start_server()
        if "local" in scenarios:
            bench.start_local()
        title = f"vidp process, {args.duration:g} s clip, cold ({args.label or 'run'})"
        for pair in range(args.pairs):
            print(f"round {pair + 1} of {args.pairs}", flush=True)
            if not args.no_peer:
                bench.peer()
            for name in scenarios:
                draw = (args.timeline, title) if args.timeline and pair == 0 else None
                bench.scenario(name, draw)
    finally:
        bench.stop()
        shutil.rmtree(work, ignore_errors=True)
    results = {
        "clip": {"path": str(clip.relative_to(REPO)), "duration_s": args.duration},
        "settings": SETTINGS,
        "machine": machine(bench.env),
        "label": args.label,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "runs": bench.runs,
        **summarize(bench.runs),
        "timeline": bench.spans,
    }
    line = json.dumps(results)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(line + "\n")
    print(json.dumps(summarize(bench.runs), indent=1))


if __name__ == "__main__":
    main()
