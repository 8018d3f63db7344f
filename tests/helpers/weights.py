"""The detector weights of the tests: real COCO weights that load offline (yolo11n.pt, the
default, needs internet)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.repo import REPO

__all__ = ["TEST_WEIGHTS", "detector_weights"]

TEST_WEIGHTS = Path(
    os.environ.get("VIDP_TEST_WEIGHTS", REPO.parent / "shared" / "models" / "yolov8n_int8.tflite")
)


def detector_weights() -> Path:
    """TEST_WEIGHTS; a test that runs the detector fails here, saying how to get them."""
    if not TEST_WEIGHTS.is_file():
        pytest.fail(
            f"detector weights for tests not found at {TEST_WEIGHTS}: set VIDP_TEST_WEIGHTS to an "
            "offline COCO weights file such as ../shared/models/yolov8n_int8.tflite "
            "(../shared/models/README.md); the tests pass it on as VIDP_DETECTOR_WEIGHTS",
            pytrace=False,
        )
    return TEST_WEIGHTS
