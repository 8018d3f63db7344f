"""Locate and run ffmpeg, always with a wall-clock limit."""

from __future__ import annotations

import logging
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from vidp.atomic import atomic_file
from vidp.settings import get_settings

__all__ = ["FfmpegError", "ffmpeg_exe", "run_ffmpeg", "media_arg"]

logger = logging.getLogger(__name__)


class FfmpegError(RuntimeError):
    """ffmpeg exited non-zero or ran past its time limit."""


@lru_cache
def ffmpeg_exe() -> str:
    """ffmpeg from PATH, else the static build that the imageio-ffmpeg wheel ships."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def media_arg(path: Path) -> str:
    """A path as an ffmpeg input/output argument that no file name can turn into an option or a protocol."""
    return f"file:{path.resolve()}"


def run_ffmpeg(
    args: list[str],
    *,
    out: Path | None = None,
    cwd: Path | None = None,
    timeout_s: float | None = None,
) -> None:
    """Run ffmpeg with `args`; raise FfmpegError with the tail of its log on failure or timeout.

    `out`, when given, is appended as the output and appears only once complete. Prefect's task
    timeouts cannot interrupt a subprocess, so every call carries its own limit.
    """
    if out is not None:
        with atomic_file(out) as draft:
            run_ffmpeg([*args, media_arg(draft)], cwd=cwd, timeout_s=timeout_s)
        return
    timeout_s = timeout_s or get_settings().ffmpeg_timeout_s
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    logger.debug("running %s", cmd)
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        raise FfmpegError(f"ffmpeg ran past its {timeout_s:.0f} s limit: {' '.join(args)}") from e
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-5:]
        raise FfmpegError(f"ffmpeg failed ({done.returncode}): {' | '.join(tail)}")
