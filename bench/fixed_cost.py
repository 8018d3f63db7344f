"""Where a short clip's fixed cost goes: one `vidp process` of the 3 s clip sampled by py-spy
(every thread of every process, idle ones too, 100 times a second), drawn as a timeline from
process start to exit.

python bench/fixed_cost.py --scenario cli      # no server: Prefect's temporary API, home used before
python bench/fixed_cost.py --scenario server   # a `prefect server start` running, PREFECT_API_URL set

Prints the timeline (what each thread of each process was in, spans of 50 ms and more) and
writes it, with the flow run's own timestamps from Prefect when a server keeps them, to
bench/out/fixed-cost-<scenario>.json. Sampling slows the run a little: the bench's figures are
measured without it (bench/run.py); this says where the time goes, not how much there is.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from make_clip import clip_path
from run import REPO, Bench, _make_clip

__all__ = ["Span", "spans", "phases"]

_OURS = ("/vidp/", "/cli/", "/flows/", "/tasks/", "/blocks/")
_MIN_S = 0.05


@dataclass(frozen=True)
class Span:
    """A frame on one thread's stack from `start_s` to `end_s` (seconds since the first
    sample), `depth` frames from the thread's root."""

    pid: int
    tid: int
    depth: int
    name: str
    file: str
    start_s: float
    end_s: float

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s


def spans(trace: list[dict[str, Any]]) -> list[Span]:
    """Every frame of a py-spy chrometrace (nested B/E events per thread) as a span."""
    t0 = min(e["ts"] for e in trace)
    open_: dict[tuple[int, int], list[dict[str, Any]]] = {}
    out: list[Span] = []
    for event in trace:
        stack = open_.setdefault((event["pid"], event["tid"]), [])
        if event["ph"] == "B":
            stack.append(event)
        elif event["ph"] == "E" and stack:
            begin = stack.pop()
            out.append(
                Span(
                    begin["pid"],
                    begin["tid"],
                    len(stack),
                    begin["name"],
                    begin["args"].get("filename", ""),
                    (begin["ts"] - t0) / 1e6,
                    (event["ts"] - t0) / 1e6,
                )
            )
    return out


def _module(file: str) -> str:
    """`torch` for .../site-packages/torch/nn/modules/module.py."""
    for marker in ("site-packages/", "/lib/python3"):
        if marker in file:
            rest = file.split(marker, 1)[1].lstrip("/").split("/")
            return rest[1 if marker == "/lib/python3" else 0].removesuffix(".py")
    for ours in _OURS:
        if ours in file:
            return "vidp" + ours.rstrip("/").replace("/", ".")
    return Path(file).stem


def phases(all_spans: list[Span]) -> list[dict[str, Any]]:
    """What each thread was doing: the outermost imports (`import torch`), our own functions
    (the flow, its tasks, the CLI), and Prefect's API calls, each of `_MIN_S` and more."""
    rows: list[dict[str, Any]] = []
    by_thread: dict[tuple[int, int], list[Span]] = {}
    for span in all_spans:
        by_thread.setdefault((span.pid, span.tid), []).append(span)
    for (pid, tid), thread in by_thread.items():
        thread.sort(key=lambda s: (s.start_s, s.depth))
        covered: list[tuple[float, float]] = []  # imports already shown, by their outermost
        for span in thread:
            if span.seconds < _MIN_S:
                continue
            what = None
            if span.name == "<module>" and not any(a <= span.start_s < b for a, b in covered):
                what = f"import {_module(span.file)}"
                covered.append((span.start_s, span.end_s))
            elif any(ours in span.file for ours in _OURS) and span.name != "<module>":
                what = f"{_module(span.file)}.{span.name}"
            elif span.name in ("request", "send") and "httpx" in span.file:
                what = "http request"
            if what:
                rows.append(
                    {
                        "pid": pid,
                        "tid": tid,
                        "depth": span.depth,
                        "what": what,
                        "start_s": round(span.start_s, 2),
                        "end_s": round(span.end_s, 2),
                    }
                )
    return sorted(rows, key=lambda r: (r["pid"], r["start_s"], r["depth"]))


def _print(rows: list[dict[str, Any]]) -> None:
    threads = {(r["pid"], r["tid"]) for r in rows}
    names = {t: f"p{t[0] % 1000}/t{i}" for i, t in enumerate(sorted(threads))}
    for r in rows:
        thread = names[(r["pid"], r["tid"])]
        indent = "  " * min(r["depth"], 12)
        print(f"{r['start_s']:7.2f} {r['end_s']:7.2f} {thread:<12} {indent}{r['what']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=("cli", "server"), default="cli")
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--rate", type=int, default=100)
    args = parser.parse_args()

    clip = clip_path(args.duration)
    if not clip.exists():
        _make_clip(clip, args.duration, 1080)
    work = Path(tempfile.mkdtemp(prefix="vidp-fixed-cost-"))
    weights = os.environ.get("VIDP_DETECTOR_WEIGHTS", "yolo11n.pt")
    logs = REPO / "bench" / "out" / "logs" / time.strftime("%Y%m%d-%H%M%S")
    vidp = str(Path(sys.executable).with_name("vidp"))
    bench = Bench(clip, work, logs, weights, "", vidp)
    trace_file = work / "trace.json"
    try:
        if args.scenario == "cli":
            bench.warm_up()
            env = {**bench.env, "PREFECT_HOME": str(work / "home-cli")}
        else:
            bench.start_server()
            env = {**bench.env, "PREFECT_HOME": str(work / "home-client")}
            env["PREFECT_API_URL"] = bench.api_url
        env["VIDP_WORK_DIR"] = str(work / "work")
        py_spy = str(Path(sys.executable).with_name("py-spy"))
        sampler = [py_spy, "record", "--idle", "--subprocesses", "--full-filenames"]
        sampler += ["--rate", str(args.rate), "--format", "chrometrace", "-o", str(trace_file)]
        started = time.time()
        subprocess.run(
            [*sampler, "--", *bench.vidp_command([clip], work / "out", cold=True)],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        wall = time.time() - started
        flow = (
            bench.timeline(work / "timeline.png", "fixed cost") if args.scenario == "server" else []
        )
    finally:
        bench.stop()
    rows = phases(spans(json.loads(trace_file.read_text())))
    shutil.rmtree(work, ignore_errors=True)
    _print(rows)
    out = REPO / "bench" / "out" / f"fixed-cost-{args.scenario}.json"
    out.write_text(json.dumps({"wall_s": wall, "phases": rows, "flow": flow}) + "\n")
    print(f"wall {wall:.1f} s (sampled); {out}")


if __name__ == "__main__":
    main()
