"""Processes the tests start as a user would: servers on free ports, `prefect worker`, the
`vidp` CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from helpers.repo import REPO

__all__ = ["WORKER_STOP_S", "free_port", "wait_until_up", "vidp", "process_worker"]

WORKER_STOP_S = 15  # a worker stops within about a second of SIGTERM (docs/operations.md)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(proc: subprocess.Popen, url: str, log: Path, timeout_s: float) -> None:
    """Poll `url` until the server `proc` answers 2xx; kill it and show its log if it never does."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=2).is_success:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server at {url} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.3)


@contextmanager
def serving(
    command: list[str], env: dict[str, str], log: Path, health: str, timeout_s: float
) -> Iterator[None]:
    """Run the server `command` from the repository with `env`, logging to `log`, once `health`
    answers and until the block ends."""
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_up(proc, health, log, timeout_s)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def vidp(*args: str, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `vidp` CLI as a user would, in a subprocess; `env` adds to this environment (a
    None value unsets the variable)."""
    merged = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "vidp.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env={name: value for name, value in merged.items() if value is not None},
    )


@contextmanager
def process_worker(
    pool: str, log: Path, env: dict[str, str] | None = None, limit: int | None = None
) -> Iterator[None]:
    """A real `prefect worker start --pool POOL` in the background while the block runs, taking
    at most `limit` runs at once when given."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool]
            + (["--limit", str(limit)] if limit else []),
            cwd=REPO,
            env=env or dict(os.environ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        hung = False
        try:
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=WORKER_STOP_S)
            except subprocess.TimeoutExpired:
                hung = True
                _dump_stacks(proc.pid, log)
                proc.kill()
                proc.wait()
    if hung:  # a pod that holds its node for the grace period: a failure, with the stacks
        pytest.fail(f"the worker did not stop within {WORKER_STOP_S} s of SIGTERM: see {log}")


def _dump_stacks(pid: int, log: Path) -> None:
    """Append every thread's Python stack of process `pid` to `log` (py-spy, from the test extra)."""
    spy = Path(sys.executable).with_name("py-spy")
    if spy.exists():
        dump = subprocess.run(
            [str(spy), "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=60
        )
        with log.open("a") as out:
            out.write(f"\n--- py-spy dump of the hung worker ---\n{dump.stdout}{dump.stderr}")
