"""A real browser for the UI tests: Debian's chromium, headless, driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from helpers.repo import REPO

__all__ = ["ARTIFACTS", "headless_chromium"]

ARTIFACTS = REPO / "test-artifacts"  # screenshots of the browser tests (git-ignored)


@contextmanager
def headless_chromium() -> Iterator[Any]:
    """Debian's chromium launched by Playwright (which downloads no browser of its own) while the
    block runs; a test without chromium fails saying how to get it."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail(
            "the browser tests need Debian's chromium: run tests/debian-packages.sh "
            "or apt-get install chromium",
            pytrace=False,
        )
    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where chromium's sandbox cannot start.
        launched = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()
