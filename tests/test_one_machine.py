"""The docs' one-machine path, run as a newcomer runs it: every shell block of docs/deploy.md's
"On one machine", then of docs/gateway.md's "Try it on one machine", as written and in order,
each in the terminal the text puts it in, on a fresh copy of the repository (`make install`
included). A clip dropped into the bucket is published by the sweep's schedule with nobody
starting anything; the signed bucket notification finds that same run; no service of the Prefect
server (on the PostgreSQL the doc starts) logs an error.

What the harness adds, as a newcomer would: a video named `clip.mp4`; the offline detector
weights the doc says an offline worker needs; a PREFECT_HOME, PostgreSQL data folder, work folder
and catalog of its own (a fresh user's); the wait the doc asks for before listing the results; and
`deployments/local-postgres.sh stop` at the end. Then the long video of "A long video over several
workers" (`long.mp4`, 130 s, in 60 s segments) over a worker per core, and the workers stopped,
as that section has it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from pathlib import Path

import boto3
import httpx
import pytest
from helpers.prefect_stack import flow_runs, server_errors
from helpers.repo import REPO
from helpers.weights import TEST_WEIGHTS
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.settings import PREFECT_API_URL, temporary_settings

from vidp.manifest import validate_manifest
from vidp.sample import asset, make_clip

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.minutes,
    pytest.mark.timeout(1500),
    pytest.mark.usefixtures("detector_weights"),
]

API = "http://127.0.0.1:4200/api"  # the addresses the docs use
S3 = "http://127.0.0.1:9000"
GATEWAY = "http://127.0.0.1:8000"


def shell_blocks(doc: str, heading: str) -> list[str]:
    """The ```sh blocks of one `## heading` section of docs/`doc`, in order."""
    text = (REPO / "docs" / doc).read_text()
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```$", section, flags=re.M | re.S)


class Terminal:
    """A bash in the repository that runs blocks one after the other, as a user pastes them; a
    block's failing command ends the terminal (`set -e`), so the harness sees it."""

    def __init__(self, name: str, cwd: Path, env: dict[str, str], logs: Path) -> None:
        self.name, self.log, self._scripts = name, logs / f"{name}.log", logs
        self._pasted, self._marker = 0, ""
        self._proc = subprocess.Popen(
            ["bash", "--norc", "--noprofile"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: stopped as a whole, like Ctrl-C
        )

    def paste(self, block: str) -> str:
        """Start `block`; return the marker it prints once it has finished."""
        self._pasted += 1
        script = self._scripts / f"{self.name}-{self._pasted}.sh"
        script.write_text(block)
        self._marker = marker = f"== block {self._pasted} done =="
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"set -e; . {script}; set +e; echo '{marker}'\n")
        self._proc.stdin.flush()
        return marker

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, ready: Callable[[], bool], what: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            assert self._proc.poll() is None, f"{self.name} ended: {what}\n{self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"{self.name}: {what}\n{self.output()[-3000:]}"
            time.sleep(1)

    def run(self, block: str, timeout_s: float = 120) -> str:
        """Run `block` to its end; return what it printed."""
        start = len(self.output())
        marker = self.paste(block)
        self.wait_for(lambda: marker in self.output()[start:], "the block did not end", timeout_s)
        return self.output()[start:].split(marker)[0]

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def interrupt(self) -> None:
        """Ctrl-C: the command in the foreground stops, and with it the block it was in. Jobs
        started with `&` keep running, as in a terminal; there Ctrl-C does not reach them, here
        it does, and a Prefect worker among them ignores it (a shell without job control starts
        them so) but dies of the next signal, where in a terminal it would stop gracefully."""
        os.killpg(self._proc.pid, signal.SIGINT)
        self.wait_for(lambda: self._marker in self.output(), "Ctrl-C did not stop it", 30)

    def close(self) -> None:
        """Ctrl-C, then the end of its input, so that bash ends once its job has stopped; what
        is left of it after 30 s, and what it left running, is killed."""
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGINT)
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        with suppress(ProcessLookupError):  # nothing left in its process group
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait()


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def worker_online(pool: str) -> bool:
    with temporary_settings({PREFECT_API_URL: API}), get_client(sync_client=True) as client:
        try:
            workers = client.read_workers_for_work_pool(pool)
        except Exception:  # the pool is not there yet
            return False
    return any(w.status == "ONLINE" for w in workers)


def runs_of(deployment: str) -> list[FlowRun]:
    """`flow_runs` (helpers.prefect_stack), on the docs' server."""
    with temporary_settings({PREFECT_API_URL: API}):
        return flow_runs(deployment)


def fresh_copy(to: Path) -> Path:
    """The working tree as a clone would have it: tracked and not-ignored files only."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = REPO / os.fsdecode(name)
        if source.is_file():
            target = to / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode)
    return to


def newcomer_env(home: Path, pgdata: Path) -> dict[str, str]:
    """This environment without vidp's, Prefect's, AWS's and PostgreSQL's variables or this test's
    venv."""
    ours = str(Path(sys.executable).parent)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VIDP_", "PREFECT_", "AWS_", "PG", "MAKE", "MFLAGS", "VIRTUAL_ENV"))
    }
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != ours)
    return env | {
        "PREFECT_HOME": str(home / "prefect"),
        "PGDATA": str(pgdata),
        "VIDP_WORK_DIR": str(home / "work"),
        "VIDP_CATALOG_URL": f"sqlite:///{home / 'catalog.db'}",
        "VIDP_DETECTOR_WEIGHTS": str(TEST_WEIGHTS),  # offline (the doc says so)
    }


def test_the_one_machine_path_of_the_docs_works_as_written(tmp_path: Path) -> None:
    for port in (4200, 9000, 8000, 5432):  # the docs' addresses must be this test's own
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"something already serves port {port}"
    deploy = shell_blocks("deploy.md", "On one machine")
    gateway = shell_blocks("gateway.md", "Try it on one machine")
    spread = shell_blocks("deploy.md", "A long video over several workers")
    assert len(deploy) == 5 and len(gateway) == 2 and len(spread) == 3, (
        "a block was added: say what it needs below"
    )

    repo = fresh_copy(tmp_path / "vidp")
    cat = asset("cat.jpg")
    clip = make_clip(repo / "clip.mp4", duration_s=4, size=(320, 180), still=cat)
    video_id = hashlib.sha256(clip.read_bytes()).hexdigest()[:16]
    (tmp_path / "logs").mkdir()
    s3 = boto3.client(
        "s3",
        endpoint_url=S3,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        region_name="us-east-1",
    )
    # Not under tmp_path: as root the script runs PostgreSQL as `postgres`, which must reach it.
    pgroot = Path(tempfile.mkdtemp(prefix="vidp-one-machine-pg-"))
    pgroot.chmod(0o755)
    env, logs = newcomer_env(tmp_path, pgroot / "data"), tmp_path / "logs"
    try:
        with ExitStack() as stack:  # closed last to first: gateway, worker, S3, server
            term = {
                n: stack.enter_context(Terminal(f"terminal-{n}", repo, env, logs))
                for n in range(1, 7)
            }
            # First: make install, then the server in the foreground.
            term[1].paste(deploy[0])
            term[1].wait_for(lambda: answers(f"{API}/health"), "no Prefect server", 900)
            term[2].paste(deploy[1])  # the S3 server in the foreground
            term[2].wait_for(lambda: answers(S3), "no S3 server", 300)
            term[3].paste(deploy[2])  # bucket, pools, deployments, then the worker
            term[3].wait_for(lambda: worker_online("vidp-cpu"), "no worker", 300)

            term[4].run(deploy[3])  # the upload
            dropped = time.monotonic()
            key = f"processed/{video_id}/manifest.json"
            # "Within two minutes": the next sweep starts within one, the run ends in another.
            term[3].wait_for(lambda: _exists(s3, key), f"no {key}", 180)
            print(f"published {time.monotonic() - dropped:.0f} s after the drop")
            listed = term[4].run(deploy[4]).split()
            assert key in listed and f"processed/{video_id}/final.mp4" in listed, listed

            manifest = json.loads(s3.get_object(Bucket="media", Key=key)["Body"].read())
            validate_manifest(manifest)
            assert manifest["source"]["uri"] == "s3://media/uploads/clip.mp4"
            assert manifest["animals"] and manifest["animals"][0]["label"] == "cat"
            sweeps = [r for r in runs_of("sweep-uploads/default") if r.state_name == "Completed"]
            assert sweeps and all(r.auto_scheduled for r in sweeps), "sweeps ran on schedule"
            (run,) = runs_of("process-video/default")
            etag = s3.head_object(Bucket="media", Key="uploads/clip.mp4")["ETag"].strip('"')
            assert run.state_name == "Completed"
            assert run.idempotency_key == f"media/uploads/clip.mp4/{etag}", "started by a sweep"

            # The gateway, and the clip's signed notification: the sweep's run again.
            term[5].paste(gateway[0])
            term[5].wait_for(lambda: answers(f"{GATEWAY}/openapi.json"), "no gateway", 120)
            answer = term[4].run(gateway[1])
            assert answer.rstrip().endswith("HTTP 202"), answer
            body = json.loads(answer.rstrip().rsplit("\n", 1)[0])
            assert [(r["flow_run_id"], r["state"]) for r in body["runs"]] == [
                (str(run.id), "Completed")
            ]
            assert len(runs_of("process-video/default")) == 1

            # A long video over a worker per core: the single worker stopped (Ctrl-C in the
            # third terminal), the segments' workers and the one for whole runs in a new one.
            term[3].close()
            term[6].paste(spread[0])
            term[6].wait_for(
                lambda: term[6].output().count("started!") == 3, "no three workers", 120
            )
            long = make_clip(repo / "long.mp4", duration_s=130, size=(320, 180), still=cat)
            term[4].run(spread[1], timeout_s=900)
            long_id = hashlib.sha256(long.read_bytes()).hexdigest()[:16]
            body = s3.get_object(Bucket="media", Key=f"processed/{long_id}/manifest.json")["Body"]
            manifest = json.loads(body.read())
            validate_manifest(manifest)
            segments = manifest["segments"]
            assert [s["index"] for s in segments] == [0, 1] and segments[0]["start_s"] < 0.05
            assert segments[-1]["end_s"] == pytest.approx(manifest["media"]["duration_s"], abs=0.05)
            # Each segment's run was taken by a segment worker, one each.
            taken = term[6].output()
            assert {
                name
                for name in ("segments-0", "segments-1")
                for s in segments
                if f"Worker '{name}' submitting flow run '{s['flow_run_id']}'" in taken
            } == {"segments-0", "segments-1"}, taken[-3000:]

            # Stopped as the doc says: Ctrl-C for the worker in the foreground, then the two
            # in the background.
            term[6].interrupt()
            term[6].run(spread[2])
            segment_workers = ["pgrep", "-f", f"{repo}/.venv/bin/prefect worker start .*segments"]
            term[6].wait_for(
                lambda: subprocess.run(segment_workers, capture_output=True).returncode == 1,
                "the segment workers still run",
                30,
            )
    finally:
        server = (logs / "terminal-1.log").read_text(errors="replace")
        subprocess.run([repo / "deployments" / "local-postgres.sh", "stop"], env=env, check=False)
        subprocess.run(["rm", "-rf", str(pgroot)], check=False)
        _remove_venv(repo)
    errors = server_errors(server)
    assert not errors, "the Prefect server logged errors:\n" + "\n".join(errors)[-4000:]


def _exists(s3, key: str) -> bool:
    try:
        s3.head_object(Bucket="media", Key=key)
        return True
    except s3.exceptions.ClientError:
        return False


def _remove_venv(repo: Path) -> None:
    """pytest keeps the last runs' temporary folders; a 1.5 GB .venv each is too much."""
    subprocess.run(["rm", "-rf", str(repo / ".venv")], check=False)
