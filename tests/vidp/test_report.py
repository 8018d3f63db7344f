"""The markdown report links work for any file name."""

from __future__ import annotations

from vidp.report import markdown_link


def test_local_paths_become_percent_encoded_file_urls() -> None:
    assert (
        markdown_link("/out/a b/cat's [1].jpg")
        == "[cat's [1].jpg](file:///out/a%20b/cat%27s%20%5B1%5D.jpg)"
    )


def test_urls_are_kept_and_missing_ones_shown_as_a_dash() -> None:
    assert markdown_link("s3://bucket/v/final.mp4") == "[final.mp4](s3://bucket/v/final.mp4)"
    assert markdown_link(None) == "—"
