"""Locate and run ffmpeg, always with a wall-clock limit."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
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

    `out`, when given, is appended as the output and appears only once complete. Whatever ends
    the wait (its own limit, or a Prefect task timeout or cancellation raised in this thread,
    which lands between the wait's short sleeps), ffmpeg is killed: none is left running.
    """
    if out is not None:
        with atomic_file(out) as draft:
            run_ffmpeg([*args, media_arg(draft)], cwd=cwd, timeout_s=timeout_s)
        return
    timeout_s = timeout_s or get_settings().ffmpeg_timeout_s
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    logger.debug("running %s", cmd)
    # Its log goes to a file, not a pipe: reading a pipe would block where nothing can interrupt.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=log)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired as e:
            raise FfmpegError(
                f"ffmpeg ran past its {timeout_s:.0f} s limit: {' '.join(args)}"
            ) from e
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            log.seek(0)
            tail = log.read().decode(errors="replace").strip().splitlines()[-5:]
            raise FfmpegError(f"ffmpeg failed ({proc.returncode}): {' | '.join(tail)}")
