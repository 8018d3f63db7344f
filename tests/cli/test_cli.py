"""The CLI contract other programs rely on: exit codes, stdout JSON, one-line reasons."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import psutil
import pytest
from helpers.processes import free_port, vidp
from helpers.repo import REPO

from vidp.ffmpeg import run_ffmpeg
from vidp.manifest import manifest_schema
from vidp.sample import make_clip

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SCHEMA = manifest_schema()


@pytest.mark.usefixtures("detector_weights")
def test_json_run_prints_only_the_manifest(
    prefect_server: str, bus_clip: Path, tmp_path: Path
) -> None:
    done = vidp(
        "process",
        str(bus_clip),
        "--output",
        str(tmp_path),
        "--resolution",
        "360p",
        "--subtitles",
        "soft",
        "--sample-fps",
        "2",
        "--min-confidence",
        "0.4",
        "--thumbnails",
        "2",
        "--json",
        env={"VIDP_CRF": "40", "VIDP_MIN_CONFIDENCE": "0.9"},  # options are not read from env
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout)
    assert len(manifest["thumbnails"]) == 2 and manifest["parameters"]["thumbnails"] == 2
    assert manifest["parameters"]["crf"] == 23
    jsonschema.validate(manifest, SCHEMA)
    assert manifest["animals"] == []  # a bus and people, no animal
    assert (
        manifest["parameters"]["sample_fps"] == 2
        and manifest["parameters"]["min_confidence"] == 0.4
    )
    assert (tmp_path / manifest["video_id"] / "manifest.json").is_file()


@pytest.fixture(scope="module")
def bad_inputs(
    media_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, dict]]:
    folder = tmp_path_factory.mktemp("bad")
    good = make_clip(media_dir / "cli-good.mp4", duration_s=3, size=(320, 180))
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("not a video\n")
    (folder / "cut.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    run_ffmpeg(["-f", "lavfi", "-i", "sine=d=2", str(folder / "song.m4a")])
    shutil.copyfile(good, folder / "long.mp4")
    return {
        "empty": (folder / "empty.mp4", {}),
        "not media": (folder / "notes.mp4", {}),
        "truncated": (folder / "cut.mp4", {}),
        "no video stream": (folder / "song.m4a", {}),
        "too long": (folder / "long.mp4", {"VIDP_MAX_DURATION_S": "1"}),
        "missing": (folder / "nowhere.mp4", {}),
    }


@pytest.mark.parametrize(
    "case", ["empty", "not media", "truncated", "no video stream", "too long", "missing"]
)
def test_rejected_input_exits_2_with_one_line_and_publishes_nothing(
    case: str, bad_inputs, prefect_server: str, tmp_path: Path
) -> None:
    source, env = bad_inputs[case]
    before = source.read_bytes() if source.exists() else None
    done = vidp("process", str(source), "--output", str(tmp_path / "out"), "--json", env=env)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidp: rejected: ") and source.name in lines[0]
    assert not (tmp_path / "out").exists()
    assert (source.read_bytes() if source.exists() else None) == before, (
        "the source is never modified"
    )
    if before:  # no copy of the rejected file is kept in the work directory
        video_id = hashlib.sha256(before).hexdigest()[:16]
        assert not (Path(os.environ["VIDP_WORK_DIR"]) / video_id / "source").exists()


@pytest.mark.usefixtures("detector_weights")
def test_several_sources_are_each_their_own_run_and_a_rejected_one_stops_none(
    bad_inputs, prefect_server: str, media_dir: Path, tmp_path: Path
) -> None:
    """`vidp process a b c`: one flow run per video, one manifest per line on stdout in the
    order given, the rejected one's reason alone on stderr, and the exit code the worst."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    first = make_clip(media_dir / "batch-first.mp4", duration_s=2, size=(160, 90))
    second = make_clip(media_dir / "batch-second.mp4", duration_s=3, size=(160, 90), audio=False)
    rejected, _ = bad_inputs["not media"]
    sources = [str(first), str(rejected), str(second)]
    started = datetime.now(timezone.utc)
    done = vidp("process", *sources, "--output", str(tmp_path), "--json")
    assert done.returncode == 2, done.stderr
    manifests = [json.loads(line) for line in done.stdout.splitlines()]
    assert [m["source"]["filename"] for m in manifests] == ["batch-first.mp4", "batch-second.mp4"]
    for manifest in manifests:
        jsonschema.validate(manifest, SCHEMA)
        assert (tmp_path / manifest["video_id"] / "manifest.json").is_file()
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("vidp: rejected: ") and rejected.name in line
    names = [f"process-{Path(s).name}" for s in sources]
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=names))
        )
    states = {run.name: run.state_name for run in runs if run.created >= started}
    assert states == dict(zip(names, ["Completed", "Failed", "Completed"], strict=True)), states


@pytest.mark.usefixtures("detector_weights")
def test_ctrl_c_stops_several_videos_at_once_and_starts_no_other(
    prefect_server: str, media_dir: Path, tmp_path: Path
) -> None:
    """Ctrl-C while `vidp process a b c d` works: exit 130 with one line, without waiting for
    the videos under way to end, a video not started yet is never run, and nothing is left
    half-published."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    # The first ends first; the next two are long enough to be under way when it has.
    lengths = [2, 20, 20, 2]
    clips = [
        make_clip(media_dir / f"interrupted-{i}.mp4", duration_s=s) for i, s in enumerate(lengths)
    ]
    command = [sys.executable, "-m", "vidp.cli", "process", *map(str, clips)]
    with subprocess.Popen(
        [*command, "--output", str(tmp_path), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    ) as process:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())
        process.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        _, stderr = process.communicate(timeout=120)
    assert first["source"]["filename"] == "interrupted-0.mp4"
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "vidp: interrupted"
    assert time.monotonic() - interrupted < 15
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                name=FlowRunFilterName(any_=["process-interrupted-3.mp4"])
            )
        )
    assert runs == []
    # The ones under way may have ended meanwhile; whatever was published is whole.
    published = [json.loads((p / "manifest.json").read_text()) for p in tmp_path.iterdir()]
    assert first in published
    assert "interrupted-3.mp4" not in {m["source"]["filename"] for m in published}


@pytest.mark.usefixtures("detector_weights")
def test_a_failed_step_gives_its_own_reason_not_that_a_later_one_never_ran(
    prefect_server: str, media_dir: Path, tmp_path: Path
) -> None:
    """Whisper fails (a model that does not exist): the encode, which waits for the subtitles
    it burns, never runs; the one line says why Whisper failed, and nothing is published."""
    clip = make_clip(media_dir / "no-whisper.mp4", duration_s=2, size=(160, 90))
    burned = ["--output", str(tmp_path), "--json", "--subtitles", "burn"]
    done = vidp("process", str(clip), *burned, "--whisper-model", "/nonexistent/whisper-model")
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("vidp: failed: ") and "/nonexistent/whisper-model" in line, line
    assert "PENDING" not in line
    assert list(tmp_path.iterdir()) == []


def test_without_json_a_rejected_input_shows_its_reason_and_no_traceback(
    bad_inputs, prefect_server: str, tmp_path: Path
) -> None:
    source, _ = bad_inputs["not media"]
    done = vidp("process", str(source), "--output", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("vidp: rejected: ")


def test_unsupported_output_is_rejected_before_any_work(
    prefect_server: str, bus_clip: Path
) -> None:
    done = vidp("process", str(bus_clip), "--output", "ftp://example.invalid/videos", "--json")
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "vidp: rejected: unsupported output 'ftp://example.invalid/videos': give a local folder, a file:// URI or s3://bucket/prefix"
    )


def test_invalid_option_exits_2(tmp_path: Path) -> None:
    done = vidp("process", "x.mp4", "--output", str(tmp_path), "--resolution", "4k")
    assert done.returncode == 2 and "resolutions" in done.stderr


def test_speechbrain_without_the_extra_fails_before_any_work(
    prefect_server: str, bus_clip: Path, tmp_path: Path
) -> None:
    done = vidp(
        "process",
        str(bus_clip),
        "--output",
        str(tmp_path / "out"),
        "--language-backend",
        "speechbrain",
        "--json",
    )
    assert done.returncode == 1
    assert "pip install 'vidp[speechbrain]'" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.usefixtures("detector_weights")
def test_demo_makes_a_sample_and_processes_it(prefect_server: str, tmp_path: Path) -> None:
    done = vidp("demo", "--output", str(tmp_path))
    assert done.returncode == 0, done.stderr
    manifest_path = next(tmp_path.glob("*/manifest.json"))
    manifest = json.loads(manifest_path.read_text())
    assert [a["label"] for a in manifest["animals"]] == ["cat"] and manifest["language"][
        "code"
    ] == "en"
    assert f"results are in {manifest_path.parent}" in done.stderr


@pytest.mark.usefixtures("detector_weights")
def test_a_local_server_is_found_and_the_run_is_recorded_there_whole(
    prefect_server: str, media_dir: Path, tmp_path: Path
) -> None:
    """With no PREFECT_API_URL, a server running at the configured address serves the run (no
    start-up paid), and the run's every task has reached the server when the command returns."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    clip = make_clip(media_dir / "cli-local.mp4", duration_s=2, size=(160, 90))
    port = prefect_server.rsplit(":", 1)[1].split("/")[0]
    done = vidp(
        "process",
        str(clip),
        "--output",
        str(tmp_path),
        "--json",
        env={"PREFECT_API_URL": "", "PREFECT_SERVER_API_PORT": port},
    )
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 20  # the server records task runs from their events
    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["process-cli-local.mp4"]))
        )
        while True:
            tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id={"any_": [run.id]}))
            if tasks and all(t.state.is_final() for t in tasks) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert run.state_name == "Completed"
    assert tasks and all(t.state.is_final() for t in tasks), "its last events were delivered"


_RUN_LOGS = """
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as client:
    (run,) = client.read_flow_runs()
    for log in client.read_logs():
        print(log.message)
"""


@pytest.mark.usefixtures("detector_weights")
def test_with_no_server_every_log_of_the_run_is_kept_and_stderr_is_quiet(
    media_dir: Path, tmp_path: Path
) -> None:
    """With no server anywhere, Prefect's temporary one is still up while the run's last logs
    are delivered: the run's log in PREFECT_HOME ends with its final state. With --json the
    terminal shows none of it, and analytics are off without being asked (no internet here:
    a failed send would print an error)."""
    clip = make_clip(media_dir / "cli-alone.mp4", duration_s=2, size=(160, 90))
    env = {
        "PREFECT_API_URL": "",
        "PREFECT_HOME": str(tmp_path / "home"),
        "PREFECT_SERVER_API_PORT": str(free_port()),  # no server answers there
    }
    done = vidp(
        "process",
        str(clip),
        "--output",
        str(tmp_path / "out"),
        "--json",
        env={**env, "PREFECT_SERVER_ANALYTICS_ENABLED": None},
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert json.loads(done.stdout)["source"]["filename"] == "cli-alone.mp4"
    logs = subprocess.run(
        [sys.executable, "-c", _RUN_LOGS],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert logs.returncode == 0, logs.stderr
    lines = logs.stdout.splitlines()
    assert any(line.startswith("progress 100%: published") for line in lines), lines
    assert lines[-1] == "Finished in state Completed()", lines


_RUN_EVENTS = """
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventResourceFilter
with get_client(sync_client=True) as client:
    (run,) = client.read_flow_runs()
    query = EventFilter(resource=EventResourceFilter(id=[f"prefect.flow-run.{run.id}"]))
    found = client.request("POST", "/events/filter", json={"filter": query.model_dump(mode="json")})
    for event in found.json()["events"]:
        print(event["event"])
"""
_CRASH_DETECTION = """
from vidp.deployments.automations import ensure_crash_detection
ensure_crash_detection(180)
"""


@pytest.mark.usefixtures("detector_weights")
@pytest.mark.parametrize("watched", [False, True], ids=["nothing watches", "crash detection"])
def test_a_run_sends_heartbeats_only_where_an_automation_watches_for_them(
    watched: bool, media_dir: Path, tmp_path: Path
) -> None:
    """Prefect's engine waits up to a second at the end of every flow run for its heartbeat
    thread: `vidp process` sends heartbeats only where an automation listens for them, as
    `vidp deploy`'s crash detection does (the run's events in PREFECT_HOME say which)."""
    clip = make_clip(media_dir / f"cli-beats-{watched}.mp4", duration_s=1, size=(160, 90))
    env = {
        **os.environ,
        "PREFECT_API_URL": "",
        "PREFECT_HOME": str(tmp_path / "home"),
        "PREFECT_SERVER_API_PORT": str(free_port()),  # no server answers there
    }

    def in_home(script: str) -> list[str]:
        # Prefect's own temporary server, in a new home, migrates its database first: past its
        # 20 s limit to start on a machine busy with the suite's other worker.
        slow = {**env, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "110"}
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=slow
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    if watched:
        in_home(_CRASH_DETECTION)
    done = vidp("process", str(clip), "--output", str(tmp_path / "out"), "--json", env=env)
    assert done.returncode == 0, done.stderr
    events = in_home(_RUN_EVENTS)
    assert "prefect.flow-run.Completed" in events, events  # the run's events were kept
    assert ("prefect.flow-run.heartbeat" in events) is watched, events


def test_a_temporary_server_that_does_not_start_is_one_line_and_leaves_nothing(
    media_dir: Path, tmp_path: Path
) -> None:
    clip = make_clip(media_dir / "cli-no-api.mp4", duration_s=1, size=(160, 90))
    env = {
        "PREFECT_API_URL": "",
        "PREFECT_HOME": str(tmp_path / "home"),
        "PREFECT_SERVER_API_PORT": str(free_port()),  # no server answers there
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "0",
    }
    done = vidp("process", str(clip), "--output", str(tmp_path / "out"), "--json", env=env)
    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("vidp: failed: Prefect's temporary API server did not start"), line
    assert not (tmp_path / "out").exists()
    assert not _temporary_apis(env["PREFECT_HOME"]), "the temporary server was left running"


def _temporary_apis(prefect_home: str) -> list[psutil.Process]:
    """Temporary API servers of runs with this PREFECT_HOME (tests beside this one have their own)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if "vidp.cli.temporary_api" in (proc.info["cmdline"] or []):
                if proc.environ().get("PREFECT_HOME") == prefect_home:
                    found.append(proc)
        except psutil.Error:  # it ended meanwhile
            pass
    return found


@pytest.mark.parametrize("command", [["pools"], ["deploy"], ["blocks"]], ids=" ".join)
def test_a_prefect_api_that_does_not_answer_is_one_line(command: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}/api"  # a server started but not answering yet
    done = vidp(*command, env={"PREFECT_API_URL": url})
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"vidp: cannot reach the Prefect API at {url}"), line
