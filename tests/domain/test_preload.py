"""Which runs load their models before they need them: short local videos whose every step
will work (loading for a run served from the cache would cost seconds for nothing)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from vidp.ingest import ingest
from vidp.preload import LOAD_AT_ONCE_S, load_early
from vidp.sample import make_clip


@pytest.fixture(scope="module")
def short_clip(media_dir: Path) -> Path:
    return make_clip(media_dir / "preload-short.mp4", duration_s=2, size=(160, 90))


def test_a_short_video_new_here_loads_early_and_not_once_worked_on(
    short_clip: Path, work_root: Path
) -> None:
    assert load_early(str(short_clip), refresh=False)
    assert load_early(short_clip.as_uri(), refresh=False)
    ingest(str(short_clip))  # its work folder: a re-run's steps come from the cache
    assert not load_early(str(short_clip), refresh=False)
    assert load_early(str(short_clip), refresh=True)  # --refresh-cache: every step works


def test_a_long_video_loads_while_it_works(media_dir: Path, work_root: Path) -> None:
    long = make_clip(
        media_dir / "preload-long.mp4", duration_s=LOAD_AT_ONCE_S + 1, size=(64, 36), fps=5
    )
    assert not load_early(str(long), refresh=True)


def test_no_early_loads_for_what_this_machine_does_not_analyse_or_cannot_read(
    short_clip: Path, tmp_path: Path, work_root: Path, vidp_env: Callable[..., None]
) -> None:
    assert not load_early("s3://uploads/clip.mp4", refresh=True)
    assert not load_early(str(tmp_path / "missing.mp4"), refresh=True)
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n")
    assert not load_early(str(notes), refresh=True)
    vidp_env(VIDP_GPU_DEPLOYMENT="analyze-gpu/default")  # the models run on the GPU pool
    assert not load_early(str(short_clip), refresh=True)


def test_with_a_shared_work_store_a_new_machine_may_find_the_steps_done(
    short_clip: Path, work_root: Path, vidp_env: Callable[..., None]
) -> None:
    vidp_env(VIDP_WORK_STORE="s3://work/vidp")  # only named: the decision reads nothing there
    assert not load_early(str(short_clip), refresh=False)
    assert load_early(str(short_clip), refresh=True)


def test_a_run_that_spreads_its_video_loads_the_checks_and_not_the_detector() -> None:
    """The segments detect; the run that waits for them only checks what they made."""
    code = (
        "import sys, threading\n"
        "from vidp.preload import preload\n"
        "preload(None)\n"
        "[t.join() for t in threading.enumerate() if t.name == 'vidp-preload']\n"
        "print('great_expectations' in sys.modules, 'ultralytics' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "False"], done.stderr
