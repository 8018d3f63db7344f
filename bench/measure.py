"""Measure a command as one whole process tree, from outside: wall seconds, user+system CPU
seconds of the process and every descendant it waited for, the peak of the tree's summed resident
memory (sampled every 50 ms), and the largest single process's peak (what `/usr/bin/time -v`
reports as maximum resident set size)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

__all__ = ["Measurement", "measure"]


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float  # the whole tree at once
    max_process_rss_mb: float  # the largest single process
    returncode: int

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in asdict(self).items()}


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.Error:  # it ended between the listing and the reading
            pass
    return total


def measure(
    command: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
) -> Measurement:
    """Run `command` to its end, its output to `log`; how long it took and what it used."""
    peak = 0
    done = threading.Event()
    with log.open("w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        root = psutil.Process(proc.pid)

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                try:
                    peak = max(peak, _tree_rss(root))
                except psutil.Error:
                    return
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)  # the rusage of the whole waited-for tree
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Measurement(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=peak / 2**20,
        max_process_rss_mb=usage.ru_maxrss / 2**10,  # Linux reports kilobytes
        returncode=proc.returncode,
    )
