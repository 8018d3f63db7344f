"""In a real browser (Debian's chromium, headless, driven by Playwright): the Prefect UI shows the
process-video/default deployment with its parameter form, and a completed run's report artifact
names the animal it found. Screenshots of both are saved under test-artifacts/."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, vidp
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows.process_video import process_video
from vidp.options import ProcessOptions

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        raise pytest.UsageError(
            "the browser test needs Debian's chromium: apt-get install chromium"
        )
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where chromium's sandbox cannot start.
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


def ui(api_url: str) -> str:
    return api_url.removesuffix("/api")


def test_the_deployment_shows_its_parameter_form(prefect_server: str, browser) -> None:
    assert vidp("pools", env={"VIDP_CPU_POOL": "ui-cpu", "VIDP_GPU_POOL": "ui-gpu"}).returncode == 0
    done = vidp("deploy", "--name", "process-video/default", env={"VIDP_CPU_POOL": "ui-cpu"})
    assert done.returncode == 0, done.stderr[-2000:]
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("process-video/default")

    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(f"{ui(prefect_server)}/deployments/deployment/{deployment.id}/run")
    page.get_by_text("source", exact=True).first.wait_for(timeout=60_000)
    # The options model is a form of its own, with each field's description from ProcessOptions.
    for label in ("output (Optional)", "options (Optional)", "Crf (Optional)"):
        assert page.get_by_text(label, exact=True).first.is_visible(), label
    assert page.get_by_text("x264 constant rate factor (lower is better).").is_visible()
    page.screenshot(path=ARTIFACTS / "ui-deployment-run-form.png", full_page=True)
    page.close()


def test_a_completed_run_shows_the_report_naming_the_animal(
    prefect_server: str, browser, cat_clip: Path, tmp_path: Path
) -> None:
    state = process_video(
        source=str(cat_clip),
        output=str(tmp_path),
        options=ProcessOptions(resolutions=["360p"]),
        return_state=True,
    )
    assert state.is_completed()
    video_id = hashlib.sha256(cat_clip.read_bytes()).hexdigest()[:16]
    with get_client(sync_client=True) as client:
        (report,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[f"report-{video_id}"])),
            limit=1,
        )

    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(f"{ui(prefect_server)}/runs/flow-run/{state.state_details.flow_run_id}")
    page.get_by_text("Artifacts", exact=True).first.click(timeout=60_000)
    page.get_by_text(f"report-{video_id}").first.wait_for(timeout=60_000)
    page.screenshot(path=ARTIFACTS / "ui-flow-run-artifacts.png", full_page=True)
    page.goto(f"{ui(prefect_server)}/artifacts/artifact/{report.id}")
    animals = page.locator("table", has_text="cat")
    animals.first.wait_for(timeout=60_000)
    assert "cat" in animals.first.inner_text()
    page.screenshot(path=ARTIFACTS / "ui-report-artifact.png", full_page=True)
    page.close()
