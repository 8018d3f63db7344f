"""`prefect.yaml` deploys; `process-video/default` runs from the CLI and from an upload event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from conftest import REPO
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


def test_deploy_then_run_from_the_cli_and_from_an_event(
    prefect_server: str, cat_clip: Path, bus_clip: Path, tmp_path: Path
) -> None:
    cli("prefect", "work-pool", "create", "vidp-process", "--type", "process", "--overwrite")
    cli(
        "vidp.cli", "deploy", VIDP_OUTPUT=str(tmp_path / "event")
    )  # the deployment's default output
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("process-video/default")
        sweep = client.read_deployment_by_name("sweep-uploads/default")
    schema = deployment.parameter_openapi_schema
    assert deployment.enforce_parameter_schema and deployment.work_pool_name == "vidp-process"
    assert schema["required"] == ["source"]
    assert (
        schema["definitions"]["ProcessOptions"]["properties"]["crf"]["maximum"] == 51
    )  # the UI form's limits
    assert [s.schedule.cron for s in sweep.schedules] == ["*/5 * * * *"]
    assert not sweep.schedules[0].active, "no upload prefix configured: the sweep schedule is off"

    params = {
        "source": str(cat_clip),
        "output": str(tmp_path / "cli"),
        "options": {"resolutions": ["360p"]},
    }
    cli("prefect", "deployment", "run", "process-video/default", "--params", json.dumps(params))
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
    deadline = time.monotonic() + 90
    while not any(r.parameters.get("source") == str(bus_clip) for r in runs_of(deployment.id)):
        assert time.monotonic() < deadline, "the upload event started no run"
        time.sleep(1)
    cli("prefect", "worker", "start", "--pool", "vidp-process", "--run-once")

    manifest = json.loads(next((tmp_path / "cli").glob("*/manifest.json")).read_text())
    jsonschema.validate(manifest, SCHEMA)
    assert [a["label"] for a in manifest["animals"]] == ["cat"] and manifest["renditions"][0][
        "label"
    ] == "360p"
    assert (
        json.loads(next((tmp_path / "event").glob("*/manifest.json")).read_text())["animals"] == []
    )
    states = {r.parameters["source"]: r.state.name for r in runs_of(deployment.id)}
    assert states[str(cat_clip)] == "Completed" and states[str(bus_clip)] == "Completed"
