"""Faults end in a clear failure that loses nothing and leaves nothing running.

A full disk is a real one: a small tmpfs as the work folder. A catalog database that restarts is
a real PostgreSQL server stopped and started.

A worker that dies is killed for real (SIGKILL, with its flow run and that run's ffmpeg, as when
a pod is evicted). The hung ffmpeg is injected: a wrapper first on PATH that runs the real ffmpeg, except for the
one decode that makes the renditions, where it sleeps instead (a stuck ffmpeg cannot be made to
order). Everything else is real: the CLI, Prefect's task timeout, the catalog."""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from helpers.postgres import create_database, postgres_server
from helpers.processes import process_worker, vidp
from helpers.repo import REPO
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.deployments import run_deployment
from sqlalchemy import create_engine, text

from vidp import catalog
from vidp.deployments.automations import MISSED_BEATS
from vidp.deployments.pools import model_limit
from vidp.ffmpeg import ffmpeg_exe
from vidp.sample import asset, make_clip
from vidp.tasks.policies import MODEL_SLOT_LEASE_S

T = TypeVar("T")

pytestmark = pytest.mark.integration

HANG = "sleep 6011"  # what the stuck ffmpeg runs: its command line names it for pgrep


def hanging_ffmpeg(folder: Path) -> Path:
    """A folder whose `ffmpeg` hangs on the one decode with a filter graph (the renditions)."""
    folder.mkdir()
    wrapper = folder / "ffmpeg"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *-filter_complex*) exec {HANG} ;; esac\n'
        f'exec {ffmpeg_exe()} "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return folder


def test_a_step_that_hangs_is_stopped_and_leaves_nothing(media_dir: Path, tmp_path: Path) -> None:
    # Its own bytes: a clip another test made would be served from the cache, with no ffmpeg.
    clip = make_clip(media_dir / "hangs.mp4", duration_s=3.5, size=(192, 108))
    before = clip.read_bytes()
    env = {
        "PATH": f"{hanging_ffmpeg(tmp_path / 'bin')}{os.pathsep}{os.environ['PATH']}",
        "VIDP_STEP_TIMEOUT_S": "20",
    }
    out = tmp_path / "out"
    done = vidp("process", str(clip), "--output", str(out), "--json", env=env)

    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line == "vidp: failed: a step ran past VIDP_STEP_TIMEOUT_S (20 s): stopped", line
    running = subprocess.run(["pgrep", "-f", HANG], capture_output=True, text=True)
    assert running.stdout == "", "the stuck ffmpeg was left running"
    assert not out.exists() or not any(out.rglob("*")), "nothing is published"
    assert clip.read_bytes() == before
    video_id = hashlib.sha256(before).hexdigest()[:16]
    with catalog.session() as s:
        entry = s.get(catalog.Video, video_id)
    assert entry is not None and entry.status == "failed"
    assert entry.error == "a step ran past VIDP_STEP_TIMEOUT_S (20 s): stopped"


POOLS = {"VIDP_CPU_POOL": "faults-cpu", "VIDP_GPU_POOL": "faults-gpu"}
BEAT_S = 30  # Prefect's shortest heartbeat period


def _wait(what: str, timeout_s: float, check: Callable[[], T | None]) -> T:
    deadline = time.monotonic() + timeout_s
    while (found := check()) is None or found is False:
        assert time.monotonic() < deadline, what
        time.sleep(2)
    return found


def _slots_free() -> bool:
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(model_limit(POOLS["VIDP_CPU_POOL"]))
    return limit.active_slots == 0


def _entry(video_id: str) -> catalog.Video | None:
    with catalog.session() as s:
        return s.get(catalog.Video, video_id)


@pytest.mark.slow
@pytest.mark.minutes  # three heartbeats of 30 s, Prefect's shortest
@pytest.mark.timeout(1200)
@pytest.mark.usefixtures("detector_weights")
def test_a_run_whose_worker_dies_is_crashed_recorded_and_run_again_from_the_cache(
    prefect_server: str, media_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    env = {**POOLS, "VIDP_OUTPUT": str(out), "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(BEAT_S)}
    for command in (["pools", "--type", "process"], ["deploy"]):
        done = vidp(*command, env=env)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    clip = make_clip(
        media_dir / "worker-dies.mp4", duration_s=40, size=(640, 360), still=asset("cat.jpg")
    )
    video_id = hashlib.sha256(clip.read_bytes()).hexdigest()[:16]
    run = run_deployment("process-video/default", parameters={"source": str(clip)}, timeout=0)
    worker_env = {**os.environ, **env}

    # The worker, its flow run and that run's ffmpeg die at once, as when a pod is evicted.
    with (tmp_path / "worker-1.log").open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOLS["VIDP_CPU_POOL"]],
            env=worker_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    # Killed while its detector holds a slot of the pool's model limit: the slot must come back.
    _wait("its detector never took a model slot", 300, lambda: not _slots_free())
    children = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True)
    worker.kill()
    worker.wait()
    for pid in children.stdout.split():  # each flow run leads its own process group
        os.killpg(int(pid), signal.SIGKILL)

    def state() -> str:
        with get_client(sync_client=True) as client:
            return client.read_flow_run(run.id).state_name or ""

    _wait("never marked Crashed", MISSED_BEATS * BEAT_S + 120, lambda: state() == "Crashed")
    assert not (out / video_id).exists(), "nothing was published"
    # Its lease (MODEL_SLOT_LEASE_S) ends, and Prefect's repossessor (every 15 s) takes it back.
    _wait("the killed run's model slot never came back", MODEL_SLOT_LEASE_S + 60, _slots_free)
    with process_worker(POOLS["VIDP_CPU_POOL"], tmp_path / "worker-2.log", worker_env):
        failed = _wait(
            "no failed entry", 180, lambda: (e := _entry(video_id)) and e.status == "failed" and e
        )
        assert failed.error.startswith("run crashed: no heartbeat for"), failed.error

        again = run_deployment(
            "process-video/default", parameters={"source": str(clip)}, timeout=900
        )
    assert again.state_name == "Completed"
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[again.id]))
        )
    assert any(t.state_name == "Cached" for t in tasks), "the work done before the crash is reused"
    assert [p.name for p in out.iterdir()] == [video_id]
    assert (out / video_id / "manifest.json").is_file()
    assert _entry(video_id).status == "completed"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs: a work folder that fills up (mounting needs root, or sudo without a
    password, as `make test` has for the Debian packages)."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run(
        [*sudo, "mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(folder)], check=True
    )
    try:
        yield folder
    finally:
        subprocess.run([*sudo, "umount", str(folder)], check=True)


def test_a_full_work_disk_is_a_clear_failure_that_publishes_nothing(
    small_disk: Path, media_dir: Path, tmp_path: Path
) -> None:
    clip = make_clip(media_dir / "fills-the-disk.mp4", duration_s=10, size=(640, 360), crf=18)
    before = clip.read_bytes()
    assert 1 << 20 < len(before) < 2 << 20, "fits the disk; its renditions and frames do not"
    out = tmp_path / "out"
    done = vidp(
        "process", str(clip), "--output", str(out), "--json", env={"VIDP_WORK_DIR": str(small_disk)}
    )

    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("vidp: failed: ") and "No space left on device" in line, line
    assert not out.exists() or not any(out.rglob("*")), "nothing is published"
    assert clip.read_bytes() == before
    entry = _entry(hashlib.sha256(before).hexdigest()[:16])
    assert entry is not None and entry.status == "failed"
    assert "No space left on device" in (entry.error or "")


@pytest.mark.usefixtures("detector_weights")
def test_a_catalog_database_restarted_mid_run_still_gets_the_outcome(
    media_dir: Path, tmp_path: Path
) -> None:
    """A PostgreSQL catalog of its own (the session's serves Prefect) goes down once the run has
    its entry, and stays down until the run, at its end, has failed to write the outcome once:
    the catalog task's retry, on a new connection, writes it."""
    clip = make_clip(media_dir / "catalog-restart.mp4", duration_s=6, size=(320, 180))
    video_id = hashlib.sha256(clip.read_bytes()).hexdigest()[:16]
    with postgres_server() as server:
        env = {"VIDP_CATALOG_URL": create_database(server.url, "restarted")}
        assert vidp("catalog", "upgrade", env=env).returncode == 0
        engine = create_engine(
            env["VIDP_CATALOG_URL"].replace("postgresql:", "postgresql+psycopg:")
        )

        def status() -> str | None:
            with engine.connect() as connection:
                return connection.execute(
                    text("SELECT status FROM videos WHERE video_id = :id"), {"id": video_id}
                ).scalar()

        run = subprocess.Popen(  # not --json: Prefect's log on stderr says when a task retries
            [sys.executable, "-m", "vidp.cli", "process", str(clip), "--output",
             str(tmp_path / "out")],
            cwd=REPO, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        logged: list[str] = []
        reader = threading.Thread(target=lambda: logged.extend(run.stderr or []), daemon=True)
        reader.start()
        _wait("the run to have its entry", 180, lambda: status() == "running")
        engine.dispose()
        subprocess.run([*server.pg_ctl, "-m", "fast", "stop"], check=True, capture_output=True)
        _wait("the outcome to fail once", 300, lambda: any("Retry 1/3" in x for x in logged))
        subprocess.run([*server.pg_ctl, "start"], check=True, capture_output=True)
        assert run.wait(timeout=300) == 0, "".join(logged)[-3000:]
        reader.join(timeout=10)
        assert status() == "completed"
        assert any("catalog_published" in x and "Retry 1/3" in x for x in logged), logged
        engine.dispose()
