"""In a real browser (Debian's chromium, headless, driven by Playwright): a completed run's report
artifact names the animal it found. Screenshots are saved under test-artifacts/. (The run form is
used in tests/test_ways_in.py.)"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from helpers.browser import ARTIFACTS
from helpers.prefect_stack import ui_url
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from vidp.flows.process_video import process_video
from vidp.options import ProcessOptions

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.usefixtures("detector_weights"),
]


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
    page.goto(f"{ui_url(prefect_server)}/runs/flow-run/{state.state_details.flow_run_id}")
    page.get_by_text("Artifacts", exact=True).first.click(timeout=60_000)
    page.get_by_text(f"report-{video_id}").first.wait_for(timeout=60_000)
    page.screenshot(path=ARTIFACTS / "ui-flow-run-artifacts.png", full_page=True)
    page.goto(f"{ui_url(prefect_server)}/artifacts/artifact/{report.id}")
    animals = page.locator("table", has_text="cat")
    animals.first.wait_for(timeout=60_000)
    assert "cat" in animals.first.inner_text()
    page.screenshot(path=ARTIFACTS / "ui-report-artifact.png", full_page=True)
    page.close()
