"""Sample frames from a video in one decode, scaled inside ffmpeg's filter graph."""

from __future__ import annotations

from pathlib import Path

from vidp.atomic import atomic_dir
from vidp.ffmpeg import media_arg, run_ffmpeg

__all__ = ["sample_frames", "frame_time", "DETECTOR_SIZE"]

# The detector letterboxes to 640 px; scaling here avoids moving full-size frames around.
DETECTOR_SIZE = 640


def frame_time(index: int, fps: float) -> float:
    """Timestamp of the `index`-th sampled frame (0-based) for ffmpeg's `fps` filter."""
    return round(index / fps, 3)


def sample_frames(video: Path, out_dir: Path, fps: float) -> list[Path]:
    """Write frames sampled at `fps` as JPEGs in `out_dir`, longest side at most 640 px."""
    scale = (
        f"scale=w='min({DETECTOR_SIZE},iw)':h='min({DETECTOR_SIZE},ih)'"
        ":force_original_aspect_ratio=decrease"
    )
    with atomic_dir(out_dir) as draft:
        run_ffmpeg(
            [
                "-i",
                media_arg(video),
                "-map",
                "0:v:0",
                "-vf",
                f"fps={fps},{scale}",
                "-q:v",
                "2",
                str(draft / "%06d.jpg"),
            ]
        )
    return sorted(out_dir.glob("*.jpg"))
