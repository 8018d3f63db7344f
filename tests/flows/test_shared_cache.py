"""Cache hits across machines: two workers with their own work folders, one S3 result storage.

Each "machine" is a `vidp process` in its own process with its own VIDP_WORK_DIR; they share the
Prefect server, Prefect's result storage (an s3-bucket block) and VIDP_WORK_STORE, as workers of
a pool would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.processes import vidp
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.usefixtures("detector_weights"),
]

SHARED_FILES = {"summarize", "transcript", "subtitle_files", "encode_media", "final_video"}
DATA = {"detect_batch", "quality_gate"}
ON_MACHINE = {"audio_track"}  # cheaper to remake than to move


def run_on_machine(name: str, source: str, tmp_path: Path, env: dict[str, str]) -> dict:
    done = vidp(
        "process",
        source,
        "--output",
        str(tmp_path / f"out-{name}"),
        "--resolution",
        "360p",
        "--json",
        env={"VIDP_WORK_DIR": str(tmp_path / f"work-{name}"), **env},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def task_states(filename: str) -> dict[str, set[str]]:
    """Task name -> the state names its runs ended in, for the run of `filename`."""
    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"process-{filename}"]))
        )
        states: dict[str, set[str]] = {}
        for t in client.read_task_runs(flow_run_filter=FlowRunFilter(id={"any_": [run.id]})):
            states.setdefault(t.name.rsplit("-", 1)[0], set()).add(t.state.name)
    return states


def outputs(manifest: dict) -> tuple:
    """What a user compares between two runs of the same video."""
    return (
        manifest["video_id"],
        [{**a, "thumbnail": None} for a in manifest["animals"]],
        manifest["language"]["code"],
        manifest["transcript"]["words"],
        manifest["final_video"]["size_bytes"],
        [r["size_bytes"] for r in manifest["renditions"]],
    )


def test_a_second_machine_is_served_from_the_first_ones_cache(
    shared_storage: dict[str, str], s3, cat_clip: Path, tmp_path: Path
) -> None:
    # The same bytes under two names, so each run can be found by its name.
    s3.upload_file(str(cat_clip), "uploads", "shared/cat-a.mp4")
    s3.upload_file(str(cat_clip), "uploads", "shared/cat-b.mp4")
    first = run_on_machine("a", "s3://uploads/shared/cat-a.mp4", tmp_path, shared_storage)
    second = run_on_machine("b", "s3://uploads/shared/cat-b.mp4", tmp_path, shared_storage)

    assert outputs(second) == outputs(first)
    assert second["animals"][0]["thumbnail"] and second["subtitles"]["srt"]
    states = task_states("cat-b.mp4")
    assert all(states[name] == {"Cached"} for name in SHARED_FILES | DATA), states
    assert all(states[name] == {"Completed"} for name in ON_MACHINE), states
    # Machine b fetched what it published from the store; the 16 kHz audio stayed on machine a.
    assert any((tmp_path / "work-b" / first["video_id"]).glob("final-*.mp4"))
    keys = {
        o["Key"]
        for o in s3.list_objects_v2(Bucket="vidp-shared", Prefix=f"work/{first['video_id']}/")[
            "Contents"
        ]
    }
    assert any(k.endswith(".mp4") for k in keys) and not any(k.endswith(".wav") for k in keys)
    # The staged source too, by its hash: any worker with these settings reads it there.
    assert f"work/{first['video_id']}/source" in keys


def test_without_a_work_store_file_results_are_remade_and_data_is_reused(
    shared_storage: dict[str, str], s3, bus_clip: Path, tmp_path: Path
) -> None:
    """Only Prefect's results are shared: a file made elsewhere is never served, data still is."""
    env = {k: v for k, v in shared_storage.items() if k != "VIDP_WORK_STORE"}
    for name in ("bus-a.mp4", "bus-b.mp4"):
        s3.upload_file(str(bus_clip), "uploads", f"shared/{name}")
    first = run_on_machine("c", "s3://uploads/shared/bus-a.mp4", tmp_path, env)
    second = run_on_machine("d", "s3://uploads/shared/bus-b.mp4", tmp_path, env)
    assert outputs(second) == outputs(first)
    states = task_states("bus-b.mp4")
    assert states["encode_media"] == {"Completed"}, states
    assert states["detect_batch"] == {"Cached"}, states
