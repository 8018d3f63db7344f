"""Animal detection with the real YOLO weights on real pictures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vidp.detect import detect_animals, save_best_crops, summarize_animals
from vidp.encode import FrameSample, encode_pass, frame_time

pytestmark = pytest.mark.slow


def sample_frames(clip: Path, out: Path, fps: float) -> list[Path]:
    return encode_pass(clip, None, frames=FrameSample(out, fps)).frames


def analyse(clip: Path, out: Path, weights: Path, fps: float = 1.0):
    frames = sample_frames(clip, out / "frames", fps)
    times = [frame_time(i, fps) for i in range(len(frames))]
    detections = detect_animals(frames, times, str(weights), 0.5)
    return frames, detections, summarize_animals(detections)


def test_frames_are_sampled_once_and_scaled_for_the_detector(
    cat_clip: Path, tmp_path: Path
) -> None:
    from PIL import Image

    frames = sample_frames(cat_clip, tmp_path / "frames", 2.0)
    assert len(frames) == 20  # 10 s at 2 fps
    assert Image.open(frames[0]).size == (640, 360)


def test_cat_is_found_only_while_on_screen(
    cat_clip: Path, detector_weights: Path, tmp_path: Path
) -> None:
    frames, detections, animals = analyse(cat_clip, tmp_path, detector_weights)
    assert [a.label for a in animals] == ["cat"]
    cat = animals[0]
    assert 3.0 <= cat.first_seen_s <= cat.last_seen_s <= 7.0  # on screen from 3 s to 7 s
    assert cat.frames >= 3 and cat.max_count == 1 and 0.5 <= cat.max_confidence <= 1
    assert {d.frame for d in detections} <= {f.name for f in frames}
    crops = save_best_crops(detections, animals, frames, tmp_path)
    assert list(crops) == ["cat"] and crops["cat"].stat().st_size > 1000


def test_bus_photo_has_no_animals(bus_clip: Path, detector_weights: Path, tmp_path: Path) -> None:
    _, detections, animals = analyse(bus_clip, tmp_path, detector_weights)
    assert detections == [] and animals == []


def test_model_loads_once_per_process(detector_weights: Path) -> None:
    from vidp.detect import load_detector

    weights = str(detector_weights)
    assert load_detector(weights) is load_detector(weights)


def test_on_the_cpu_a_process_detects_without_importing_torchvision(
    detector_weights: Path,
) -> None:
    """Ultralytics' warm-up imports torchvision (1.6 s of CPU in every process that detects)
    only to pick its NMS; on the CPU the detector skips it and finds the same cat."""
    script = (
        "import sys; from vidp.detect import detect_animals; from vidp.sample import asset; "
        f"found = detect_animals([asset('cat.jpg')], [0.0], {str(detector_weights)!r}, 0.5); "
        "print([(d.label, d.confidence) for d in found], 'torchvision' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "VIDP_DEVICE": "cpu"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "[('cat', 0.8903)] False"


def test_threshold_is_respected(cat_clip: Path, detector_weights: Path, tmp_path: Path) -> None:
    frames = sample_frames(cat_clip, tmp_path / "frames", 1.0)
    times = [frame_time(i, 1.0) for i in range(len(frames))]
    assert detect_animals(frames, times, str(detector_weights), 0.99) == []
