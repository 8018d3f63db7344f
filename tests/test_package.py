"""One installed name: the wheel holds the package `vidp` alone, its layers inside it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from helpers.repo import REPO


def test_the_wheel_installs_vidp_alone(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), "."],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("vidp-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["vidp"]
    assert {n.split("/")[0] for n in names if not n.startswith("vidp-")} == {"vidp"}
    for module in (
        "vidp/flows/process_video.py",
        "vidp/tasks/video.py",
        "vidp/gateway/app.py",
        "vidp/blocks/register.py",
        "vidp/deployments/work-pools/kubernetes.json",
    ):
        assert module in names, module
