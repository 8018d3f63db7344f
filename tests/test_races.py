"""No lost or duplicate work: notifications of the same uploads, sent at once and repeated, while a
sweep lists the same prefix, give exactly one run per object version, and every run completes."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from helpers.gateway import SECRET, gateway_process, notification, post, signed
from helpers.prefect_stack import flow_runs
from helpers.processes import process_worker, vidp
from helpers.repo import REPO

from vidp.sample import make_clip

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.minutes,
    pytest.mark.timeout(1500),
    pytest.mark.usefixtures("detector_weights"),
]

POOLS = {"VIDP_CPU_POOL": "race-cpu", "VIDP_GPU_POOL": "race-gpu"}
OUTPUT = "s3://results/race"
OBJECTS, DELIVERIES = 20, 50
SWEEP = (
    "import json; from vidp.flows.sweep_uploads import sweep_uploads; "
    f"print(json.dumps(sweep_uploads(uploads='s3://uploads/race/', output='{OUTPUT}')['summary']))"
)


def test_repeated_concurrent_notifications_and_a_sweep_give_one_run_per_object(
    prefect_server: str, s3, media_dir: Path, tmp_path: Path
) -> None:
    for command in (["pools", "--type", "process"], ["deploy", "--name", "process-video/default"]):
        done = vidp(*command, env={**POOLS, "VIDP_OUTPUT": OUTPUT})
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    keys = [f"race/clip-{i:02}.mp4" for i in range(OBJECTS)]
    for i, key in enumerate(keys):  # each its own bytes: 20 videos
        clip = make_clip(
            media_dir / f"race-{i}.mp4", duration_s=1 + i / 20, size=(96, 54), audio=False
        )
        s3.upload_file(str(clip), "uploads", key)
    etags = {k: s3.head_object(Bucket="uploads", Key=k)["ETag"].strip('"') for k in keys}
    deliveries = keys + random.Random(1).choices(keys, k=DELIVERIES - OBJECTS)  # with repeats
    random.Random(2).shuffle(deliveries)

    def deliver(url: str, key: str) -> httpx.Response:
        body = notification(key, etags[key])
        return post(f"{url}/webhooks/s3", body, signed(body))

    env = {
        **os.environ,
        "VIDP_GATEWAY_SECRET": SECRET,
        "VIDP_GATEWAY_DEPLOYMENT": "process-video/default",
    }
    with gateway_process(env, tmp_path / "gateway.log") as url:
        sweep = subprocess.Popen(
            [sys.executable, "-c", SWEEP], cwd=REPO, text=True, stdout=subprocess.PIPE
        )
        with ThreadPoolExecutor(DELIVERIES) as senders:  # all at once, beside the sweep
            answers = list(senders.map(lambda key: deliver(url, key), deliveries))
        swept, _ = sweep.communicate(timeout=300)
    assert sweep.returncode == 0
    assert [a.status_code for a in answers] == [202] * DELIVERIES, [a.text for a in answers]
    run_of: dict[str, set[str]] = {}
    for key, answer in zip(deliveries, answers, strict=True):
        (run,) = answer.json()["runs"]
        run_of.setdefault(key, set()).add(run["flow_run_id"])
    assert all(len(ids) == 1 for ids in run_of.values()), "a repeated delivery, another run"
    summary = json.loads(swept.strip().splitlines()[-1])
    assert summary["dispatched"] + summary["skipped"] == OBJECTS and summary["deferred"] == 0

    runs = [r for r in flow_runs("process-video/default") if "/race/" in r.parameters["source"]]
    assert len(runs) == OBJECTS, "one run per object, whoever asked first"
    assert {str(r.id) for r in runs} == {i for ids in run_of.values() for i in ids}
    assert {r.idempotency_key for r in runs} == {f"uploads/{k}/{etags[k]}" for k in keys}

    with process_worker(POOLS["VIDP_CPU_POOL"], tmp_path / "worker.log"):
        deadline = time.monotonic() + 900
        while not all((r.state and r.state.is_final()) for r in runs):
            assert time.monotonic() < deadline, [r.state_name for r in runs]
            time.sleep(5)
            runs = [r for r in flow_runs("process-video/default") if r.id in {x.id for x in runs}]
    assert [r.state_name for r in runs] == ["Completed"] * OBJECTS
