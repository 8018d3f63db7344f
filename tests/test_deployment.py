"""`prefect.yaml` deploys; `process-video/default` runs from the CLI and from an upload event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jsonschema
import pytest
from conftest import REPO, process_worker
from prefect.client.orchestration import get_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SCHEMA = json.loads((REPO.parent / "shared" / "contracts" / "manifest.schema.json").read_text())


def cli(*args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "VIDP_CPU_POOL": "vidp-process",
        "VIDP_GPU_POOL": "vidp-process",
        **env_vars,
    }
    done = subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def runs_of(deployment_id) -> list:
    with get_client(sync_client=True) as client:
        return [r for r in client.read_flow_runs() if r.deployment_id == deployment_id]


@pytest.fixture
def worker(prefect_server: str, s3, tmp_path: Path):
    """A real process worker on the pool the deployments use, running in the background."""
    cli("prefect", "work-pool", "create", "vidp-process", "--type", "process", "--overwrite")
    with process_worker("vidp-process", tmp_path / "worker.log"):
        yield


def test_deploy_then_run_from_the_cli_and_from_an_event(
    worker, s3, cat_clip: Path, bus_clip: Path, tmp_path: Path
) -> None:
    cli("vidp.cli", "deploy", VIDP_OUTPUT="s3://results/deployed")  # the runs' default output
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("process-video/default")
        sweep = client.read_deployment_by_name("sweep-uploads/default")
        gpu = client.read_deployment_by_name("analyze-gpu/default")
    schema = deployment.parameter_openapi_schema
    assert deployment.enforce_parameter_schema and deployment.work_pool_name == "vidp-process"
    assert schema["required"] == ["source"]
    assert (
        schema["definitions"]["ProcessOptions"]["properties"]["crf"]["maximum"] == 51
    )  # form limits
    assert [s.schedule.cron for s in sweep.schedules] == ["*/5 * * * *"]
    assert not sweep.schedules[0].active, "no upload prefix configured: the sweep schedule is off"
    assert gpu.work_pool_name == "vidp-process"  # VIDP_GPU_POOL, here the same pool

    s3.upload_file(str(cat_clip), "uploads", "deployed/cat.mp4")
    cli(
        "prefect",
        "deployment",
        "run",
        "process-video/default",
        "-p",
        "source=s3://uploads/deployed/cat.mp4",
        "--watch",
    )
    manifests = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket="results", Prefix="deployed/")["Contents"]
        if o["Key"].endswith("/manifest.json")
    ]
    assert len(manifests) == 1
    manifest = json.loads(s3.get_object(Bucket="results", Key=manifests[0])["Body"].read())
    jsonschema.validate(manifest, SCHEMA)
    assert [a["label"] for a in manifest["animals"]] == ["cat"]
    final = s3.get_object(
        Bucket="results", Key=manifest["final_video"]["uri"].removeprefix("s3://results/")
    )
    served = httpx.get(manifest["links"]["final.mp4"], headers={"Range": "bytes=10-2009"})
    assert served.status_code == 206 and served.content == final["Body"].read()[10:2010]

    cli(
        "prefect",
        "event",
        "emit",
        "vidp.video.uploaded",
        "--resource-id",
        "vidp.upload.bus",
        "--payload",
        json.dumps({"source": str(bus_clip)}),
    )
    deadline = time.monotonic() + 240
    while True:
        states = {r.parameters.get("source"): r.state.name for r in runs_of(deployment.id)}
        if states.get(str(bus_clip)) == "Completed":
            break
        assert time.monotonic() < deadline, f"the upload event's run did not complete: {states}"
        time.sleep(2)
