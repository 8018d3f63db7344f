"""ffmpeg: found without system packages, and never left running past its limit."""

from __future__ import annotations

import subprocess
import time

import imageio_ffmpeg
import pytest

from vidp.ffmpeg import FfmpegError, run_ffmpeg


def test_pip_only_ffmpeg_can_do_everything_vidp_asks() -> None:
    """The imageio-ffmpeg static build (used when ffmpeg is not on PATH) has x264, AAC and libass."""
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    encoders = subprocess.run(
        [exe, "-hide_banner", "-encoders"], capture_output=True, text=True
    ).stdout
    filters = subprocess.run(
        [exe, "-hide_banner", "-filters"], capture_output=True, text=True
    ).stdout
    assert "libx264" in encoders and " aac " in encoders and "mov_text" in encoders
    assert " subtitles " in filters and " scale " in filters


def test_a_call_past_its_limit_is_killed_with_a_clear_error() -> None:
    started = time.monotonic()
    with pytest.raises(FfmpegError, match="ran past its 1 s limit"):
        run_ffmpeg(["-re", "-f", "lavfi", "-i", "testsrc2=d=60", "-f", "null", "-"], timeout_s=1)
    assert time.monotonic() - started < 10


def test_failure_reports_ffmpeg_own_words(tmp_path) -> None:
    with pytest.raises(FfmpegError, match="No such file"):
        run_ffmpeg(["-i", str(tmp_path / "missing.mp4"), "-f", "null", "-"])
