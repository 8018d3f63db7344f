"""`prefect.yaml` deploys, and `process-video/default` runs on a real process worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import REPO
from prefect.client.orchestration import get_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SCHEMA = json.loads((REPO.parent / "shared" / "contracts" / "manifest.schema.json").read_text())


def prefect(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "prefect", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def test_deploy_then_run_from_the_cli_on_a_worker(
    prefect_server: str, cat_clip: Path, tmp_path: Path
) -> None:
    prefect("work-pool", "create", "vidp-process", "--type", "process", "--overwrite")
    prefect("--no-prompt", "deploy", "--all")
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("process-video/default")
    schema = deployment.parameter_openapi_schema
    assert deployment.enforce_parameter_schema and deployment.work_pool_name == "vidp-process"
    assert schema["required"] == ["source"]
    assert (
        schema["definitions"]["ProcessOptions"]["properties"]["crf"]["maximum"] == 51
    )  # the UI form's limits

    params = {
        "source": str(cat_clip),
        "output": str(tmp_path),
        "options": {"resolutions": ["360p"]},
    }
    prefect("deployment", "run", "process-video/default", "--params", json.dumps(params))
    prefect("worker", "start", "--pool", "vidp-process", "--run-once")

    manifest = json.loads(next(tmp_path.glob("*/manifest.json")).read_text())
    jsonschema.validate(manifest, SCHEMA)
    assert [a["label"] for a in manifest["animals"]] == ["cat"] and manifest["renditions"][0][
        "label"
    ] == "360p"
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
    assert [r.state.name for r in runs if r.deployment_id == deployment.id] == ["Completed"]
