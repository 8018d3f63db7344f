"""`sweep-uploads` against a real S3-compatible server, Prefect server and process worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.prefect_stack import flow_runs
from helpers.processes import process_worker
from helpers.repo import REPO
from prefect.client.orchestration import get_client
from prefect.states import Cancelled

from vidp.flows.sweep_uploads import BATCH_QUEUE
from vidp.sample import make_clip

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.minutes,
    pytest.mark.usefixtures("detector_weights"),
]

SWEEP = (
    "import json, sys; from vidp.flows.sweep_uploads import sweep_uploads; "
    "print(json.dumps(sweep_uploads(uploads='s3://uploads/sweep/', output='s3://results/swept')['summary']))"
)


def run(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO,
        env={**os.environ, "VIDP_CPU_POOL": "vidp-process"},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return out


def deploy(*names: str) -> None:
    """The process pool `vidp-process` and these deployments of prefect.yaml on it."""
    pool = ("vidp-process", "--type", "process", "--overwrite")
    finish(run("-m", "prefect", "work-pool", "create", *pool))
    for name in names:
        finish(run("-m", "vidp.cli", "deploy", "--name", name))


def test_each_video_is_processed_exactly_once(prefect_server: str, s3, media_dir: Path) -> None:
    for i in range(3):
        clip = make_clip(media_dir / f"sweep-{i}.mp4", duration_s=2 + i, size=(160, 90))
        s3.upload_file(str(clip), "uploads", f"sweep/clip {i}.mp4")
    s3.put_object(Bucket="uploads", Key="sweep/readme.txt", Body=b"not a video")
    deploy("process-video/default")

    first = json.loads(finish(run("-c", SWEEP)).strip().splitlines()[-1])
    assert first == {"dispatched": 3, "skipped": 0, "deferred": 0, "ignored": 1}
    together = [run("-c", SWEEP), run("-c", SWEEP)]  # two sweeps at once
    for proc in together:
        summary = json.loads(finish(proc).strip().splitlines()[-1])
        assert summary == {"dispatched": 0, "skipped": 3, "deferred": 0, "ignored": 1}

    finish(run("-m", "prefect", "worker", "start", "--pool", "vidp-process", "--run-once"))
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("process-video/default")
        runs = [
            r
            for r in client.read_flow_runs()
            if r.deployment_id == deployment.id
            and r.parameters.get("output") == "s3://results/swept"
        ]
    assert sorted(r.parameters["source"] for r in runs) == [
        f"s3://uploads/sweep/clip {i}.mp4" for i in range(3)
    ]
    assert [r.state.name for r in runs] == ["Completed"] * 3
    manifests = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket="results", Prefix="swept/")["Contents"]
        if o["Key"].endswith("manifest.json")
    ]
    assert len(manifests) == 3


BATCH_SWEEP = (
    "import json, sys; from vidp.flows.sweep_uploads import sweep_uploads; "
    "print(json.dumps(sweep_uploads(uploads='s3://uploads/batch/', output='s3://results/batched', "
    "batch_size=2, batch_max_bytes=int(sys.argv[1]))))"
)


def test_short_videos_run_in_batches_each_still_its_own_run(
    prefect_server: str, s3, media_dir: Path, tmp_path: Path
) -> None:
    """Short videos' runs wait on the paused queue for a `process-batch` run, which runs them in
    its process; a long one gets a run of its own. Either way: one `process-video` run per object
    version, with its own parameters, state and manifest; a rejected one fails alone; a batch
    that ended before running its videos leaves them to the next sweep."""
    shorts = [
        make_clip(media_dir / "batch-a.mp4", duration_s=2, size=(160, 90)),
        make_clip(media_dir / "batch-b.mp4", duration_s=3, size=(160, 90), audio=False),
        make_clip(media_dir / "batch-c.mp4", duration_s=2.5, size=(160, 90)),
    ]
    long = make_clip(media_dir / "batch-long.mp4", duration_s=6, size=(640, 360))
    limit = max(p.stat().st_size for p in shorts) + 1
    assert long.stat().st_size > limit
    for path in [*shorts, long]:
        s3.upload_file(str(path), "uploads", f"batch/{path.name}")
    s3.put_object(Bucket="uploads", Key="batch/broken.mp4", Body=b"not a video at all")
    deploy("process-video/default", "process-batch/default")

    first = json.loads(finish(run("-c", BATCH_SWEEP, str(limit))).strip().splitlines()[-1])
    assert first["summary"] == {"dispatched": 5, "skipped": 0, "deferred": 0, "ignored": 0}
    batched = {r["object"].rsplit("/", 1)[1]: r["detail"] for r in first["objects"]}
    assert "in batch" not in batched["batch-long.mp4"]
    assert all("in batch" in batched[n] for n in ("batch-a.mp4", "batch-b.mp4", "broken.mp4"))
    batches = flow_runs("process-batch/default")
    assert len(batches) == 2  # four short videos, two at a time

    # The first batch ends before it runs (cancelled): its videos wait for the next sweep.
    stopped = batches[0]
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(stopped.id, Cancelled(), force=True)
    again = json.loads(finish(run("-c", BATCH_SWEEP, str(limit))).strip().splitlines()[-1])
    assert again["summary"] == {"dispatched": 2, "skipped": 3, "deferred": 0, "ignored": 0}
    assert len(flow_runs("process-batch/default")) == 3

    with process_worker("vidp-process", tmp_path / "worker.log"):
        deadline = time.monotonic() + 400
        while True:
            runs = [
                r
                for r in flow_runs("process-video/default")
                if r.parameters.get("output") == "s3://results/batched"
            ]
            ran = [b for b in flow_runs("process-batch/default") if b.id != stopped.id]
            if all(r.state and r.state.is_final() for r in runs + ran) and len(runs) == 5:
                break  # the videos, and the batches that ran them
            assert time.monotonic() < deadline, [(r.name, r.state_name) for r in runs + ran]
            time.sleep(2)
    states = {r.parameters["source"].rsplit("/", 1)[1]: r.state_name for r in runs}
    assert states == {
        "batch-a.mp4": "Completed",
        "batch-b.mp4": "Completed",
        "batch-c.mp4": "Completed",
        "batch-long.mp4": "Completed",
        "broken.mp4": "Failed",
    }
    queues = {r.parameters["source"].rsplit("/", 1)[1]: r.work_queue_name for r in runs}
    assert queues.pop("batch-long.mp4") != BATCH_QUEUE
    assert set(queues.values()) == {BATCH_QUEUE}
    assert [b.state_name for b in ran] == ["Completed"] * 2
    assert sorted(i for b in ran for i in b.parameters["flow_run_ids"]) == sorted(
        str(r.id) for r in runs if r.work_queue_name == BATCH_QUEUE
    )
    manifests = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket="results", Prefix="batched/")["Contents"]
        if o["Key"].endswith("manifest.json")
    ]
    assert len(manifests) == 4
