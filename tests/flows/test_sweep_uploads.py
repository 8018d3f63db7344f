"""`sweep-uploads` against a real S3-compatible server, Prefect server and process worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.repo import REPO
from prefect.client.orchestration import get_client

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


def test_each_video_is_processed_exactly_once(prefect_server: str, s3, media_dir: Path) -> None:
    for i in range(3):
        clip = make_clip(media_dir / f"sweep-{i}.mp4", duration_s=2 + i, size=(160, 90))
        s3.upload_file(str(clip), "uploads", f"sweep/clip {i}.mp4")
    s3.put_object(Bucket="uploads", Key="sweep/readme.txt", Body=b"not a video")
    finish(
        run(
            "-m",
            "prefect",
            "work-pool",
            "create",
            "vidp-process",
            "--type",
            "process",
            "--overwrite",
        )
    )
    finish(run("-m", "vidp.cli", "deploy", "--name", "process-video/default"))

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
