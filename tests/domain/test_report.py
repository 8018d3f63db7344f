"""The markdown report: what the manifest holds, with links that work for any file name."""

from __future__ import annotations

from helpers.manifests import PUBLISHED

from vidp.manifest import Manifest
from vidp.report import markdown_link, markdown_report


def test_local_paths_become_percent_encoded_file_urls() -> None:
    assert (
        markdown_link("/out/a b/cat's [1].jpg")
        == "[cat's [1].jpg](file:///out/a%20b/cat%27s%20%5B1%5D.jpg)"
    )


def test_urls_are_kept_and_missing_ones_shown_as_a_dash() -> None:
    assert markdown_link("s3://bucket/v/final.mp4") == "[final.mp4](s3://bucket/v/final.mp4)"
    assert markdown_link(None) == "—"


def test_the_report_shows_what_the_manifest_holds() -> None:
    report = markdown_report(Manifest.model_validate_json(PUBLISHED["s3"].read_text("utf-8")))
    assert "| cat | 1 | 3.0 | 6.5 | 0.91 | 4 |" in report
    assert "**Language:** **en** (whisper, p=0.99) · **Transcript:** 2 segments, 12 words" in report
    assert "- Final video (854×480, subtitles burned): [final.mp4](s3://results/" in report
