"""Every way a video gets into vidp ends in a published manifest, through Prefect's real services
and a real process worker: `prefect deployment run`, the UI's run form, an upload event (the
deployment's trigger) and a signed bucket notification to the gateway. The schedule, the fourth
way, is the docs' one-machine path: tests/test_one_machine.py."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.browser import ARTIFACTS
from helpers.gateway import SECRET, gateway_process, notification, post, signed
from helpers.prefect_stack import flow_runs, ui_url
from helpers.processes import process_worker, vidp
from prefect.client.orchestration import get_client
from prefect.client.schemas.responses import DeploymentResponse

from vidp.manifest import validate_manifest
from vidp.sample import asset, make_clip

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POOLS = {"VIDP_CPU_POOL": "ways-cpu", "VIDP_GPU_POOL": "ways-gpu"}
OUTPUT = "s3://results/ways"  # the deployments' default output


@pytest.fixture(scope="module")
def deployment(
    prefect_server: str, s3, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DeploymentResponse]:
    """The README's deploy steps (`vidp pools`, `vidp deploy`) and a `prefect worker start` on the
    CPU pool while the module's tests run; yields process-video/default."""
    for command in (["pools", "--type", "process"], ["deploy"]):
        done = vidp(*command, env={**POOLS, "VIDP_OUTPUT": OUTPUT})
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    log = tmp_path_factory.mktemp("ways-worker") / "worker.log"
    with process_worker(POOLS["VIDP_CPU_POOL"], log):
        with get_client(sync_client=True) as client:
            yield client.read_deployment_by_name("process-video/default")


def clip(media_dir: Path, name: str, seconds: int) -> Path:
    """A short clip of a cat over a test pattern, its own bytes (and so its own video_id)."""
    return make_clip(
        media_dir / f"{name}.mp4", duration_s=seconds, size=(320, 180), still=asset("cat.jpg")
    )


def prefect(*args: str) -> str:
    """The `prefect` CLI as a user types it; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "prefect", *args], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def final_state(flow_run_id: Any) -> str:
    """The run's state once it is final: the manifest is published before the run's last steps
    (the catalog, the artifacts) and its Completed state."""
    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while not (run := client.read_flow_run(flow_run_id)).state.is_final():
            assert time.monotonic() < deadline, f"run {run.name} still {run.state_name}"
            time.sleep(0.5)
    return run.state_name


def published(s3, source: Path) -> dict[str, Any]:
    """The manifest of `source` once a run has published it under OUTPUT, checked against the
    contract; fails after 5 minutes naming process-video's runs and their states."""
    video_id = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    key = f"{OUTPUT.removeprefix('s3://results/')}/{video_id}/manifest.json"
    deadline = time.monotonic() + 300
    while True:
        try:
            manifest = json.loads(s3.get_object(Bucket="results", Key=key)["Body"].read())
            break
        except s3.exceptions.NoSuchKey:
            states = {
                r.name: (r.parameters.get("source"), r.state_name)
                for r in flow_runs("process-video/default")
            }
            assert time.monotonic() < deadline, f"no s3://results/{key}; runs: {states}"
            time.sleep(2)
    validate_manifest(manifest)
    assert manifest["video_id"] == video_id
    return manifest


def test_vidp_deploy_registers_the_deployments(deployment: DeploymentResponse) -> None:
    with get_client(sync_client=True) as client:
        sweep = client.read_deployment_by_name("sweep-uploads/default")
        gpu = client.read_deployment_by_name("analyze-gpu/default")
    schema = deployment.parameter_openapi_schema
    assert deployment.enforce_parameter_schema and deployment.work_pool_name == "ways-cpu"
    assert schema["required"] == ["source"]
    assert schema["definitions"]["ProcessOptions"]["properties"]["crf"]["maximum"] == 51
    assert deployment.parameters == {"output": OUTPUT}
    assert [s.schedule.cron for s in sweep.schedules] == ["*/5 * * * *"]
    assert not sweep.schedules[0].active, "no upload prefix configured: the sweep schedule is off"
    assert gpu.work_pool_name == "ways-gpu"


@pytest.mark.usefixtures("detector_weights")
def test_prefect_deployment_run(deployment: DeploymentResponse, s3, cat_clip: Path) -> None:
    s3.upload_file(str(cat_clip), "uploads", "ways/cli/cat.mp4")
    source = "source=s3://uploads/ways/cli/cat.mp4"
    watched = prefect("deployment", "run", "process-video/default", "-p", source, "--watch")
    assert "Completed" in watched, watched[-2000:]  # --watch waits for the end and says it

    manifest = published(s3, cat_clip)
    assert manifest["source"]["uri"] == "s3://uploads/ways/cli/cat.mp4"
    assert [a["label"] for a in manifest["animals"]] == ["cat"]
    final = s3.get_object(
        Bucket="results", Key=manifest["final_video"]["uri"].removeprefix("s3://results/")
    )
    served = httpx.get(manifest["links"]["final.mp4"], headers={"Range": "bytes=10-2009"})
    assert served.status_code == 206 and served.content == final["Body"].read()[10:2010]


@pytest.mark.usefixtures("detector_weights")
def test_the_ui_run_form(
    deployment: DeploymentResponse, s3, browser, prefect_server: str, media_dir: Path
) -> None:
    source = clip(media_dir, "ways-ui", 3)
    s3.upload_file(str(source), "uploads", "ways/ui/clip.mp4")

    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(f"{ui_url(prefect_server)}/deployments/deployment/{deployment.id}/run")
    source_field = page.locator(".schema-form-property", has=page.get_by_text("source", exact=True))
    source_field.locator("textarea").first.fill("s3://uploads/ways/ui/clip.mp4")
    # The options are a form of their own, each field with its description from ProcessOptions.
    for label in ("output (Optional)", "options (Optional)", "Crf (Optional)"):
        assert page.get_by_text(label, exact=True).first.is_visible(), label
    assert page.get_by_text("x264 constant rate factor (lower is better).").is_visible()
    page.screenshot(path=ARTIFACTS / "ui-deployment-run-form.png", full_page=True)
    page.get_by_role("button", name="Submit").click()
    page.get_by_text("scheduled to start now").first.wait_for(timeout=60_000)  # the UI's toast
    (run,) = [
        r
        for r in flow_runs("process-video/default")
        if r.parameters["source"].endswith("ui/clip.mp4")
    ]

    manifest = published(s3, source)
    assert manifest["source"]["uri"] == "s3://uploads/ways/ui/clip.mp4"
    page.goto(f"{ui_url(prefect_server)}/runs/flow-run/{run.id}")  # the toast's "View run"
    page.get_by_text("Completed", exact=True).first.wait_for(timeout=60_000)
    page.screenshot(path=ARTIFACTS / "ui-flow-run-completed.png", full_page=True)
    page.close()


@pytest.mark.usefixtures("detector_weights")
def test_an_upload_event_triggers_a_run(
    deployment: DeploymentResponse, s3, media_dir: Path
) -> None:
    source = clip(media_dir, "ways-event", 4)
    s3.upload_file(str(source), "uploads", "ways/event/clip.mp4")
    payload = json.dumps({"source": "s3://uploads/ways/event/clip.mp4"})
    event = ["vidp.video.uploaded", "--resource-id", "vidp.upload.ways", "--payload", payload]
    prefect("event", "emit", *event)  # as the Prefect Cloud webhook template emits it
    manifest = published(s3, source)
    assert manifest["source"]["uri"] == "s3://uploads/ways/event/clip.mp4"
    (run,) = [
        r
        for r in flow_runs("process-video/default")
        if r.parameters["source"] == manifest["source"]["uri"]
    ]
    assert final_state(run.id) == "Completed"


@pytest.mark.usefixtures("detector_weights")
def test_a_signed_bucket_notification_to_the_gateway(
    deployment: DeploymentResponse, s3, media_dir: Path, tmp_path: Path
) -> None:
    source = clip(media_dir, "ways-webhook", 5)
    s3.upload_file(str(source), "uploads", "ways/webhook/my clip.mp4")
    etag = s3.head_object(Bucket="uploads", Key="ways/webhook/my clip.mp4")["ETag"].strip('"')
    env = {
        **os.environ,
        "VIDP_GATEWAY_SECRET": SECRET,
        "VIDP_GATEWAY_DEPLOYMENT": "process-video/default",
    }
    with gateway_process(env, tmp_path / "gateway.log") as url:
        body = notification("ways/webhook/my+clip.mp4", etag)  # keys arrive URL-encoded
        answer = post(f"{url}/webhooks/s3", body, signed(body))
    assert answer.status_code == 202, answer.text
    (started,) = answer.json()["runs"]
    assert started["source"] == "s3://uploads/ways/webhook/my clip.mp4"

    manifest = published(s3, source)
    assert manifest["source"]["uri"] == started["source"]
    assert final_state(started["flow_run_id"]) == "Completed"
