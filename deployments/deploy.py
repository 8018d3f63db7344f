"""Register the deployments of `prefect.yaml`, with defaults for the variables it uses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from prefect.settings import get_current_settings

from vidp.deployments.automations import ensure_crash_detection

__all__ = ["DEFAULTS", "deploy_env", "deploy"]

DEFAULTS = {
    "VIDP_CPU_POOL": "vidp-cpu",
    "VIDP_GPU_POOL": "vidp-gpu",
    "VIDP_OUTPUT": "vidp-output",
    "VIDP_SWEEP_CRON": "*/5 * * * *",
}


def deploy_env(env: Mapping[str, str], project: Path) -> dict[str, str]:
    """`env` with every prefect.yaml variable set; the sweep's schedule runs only with an upload
    prefix, and workers find the code where it was deployed from unless VIDP_PROJECT_DIR says
    where it is on them (`/opt/vidp` in the images)."""
    filled = {**DEFAULTS, "VIDP_PROJECT_DIR": str(project.resolve()), **env}
    filled.setdefault("VIDP_SWEEP_ACTIVE", "true" if env.get("VIDP_UPLOADS") else "false")
    filled.setdefault("VIDP_UPLOADS", "s3://uploads/")
    return filled


def deploy(project: Path, names: list[str] | None = None) -> None:
    """`prefect deploy` (all deployments, or `names`) from `project`, which holds prefect.yaml,
    and the automation that finds runs whose worker died (at this environment's heartbeat)."""
    selection = [arg for name in names for arg in ("--name", name)] if names else ["--all"]
    subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", *selection],
        cwd=project,
        env=deploy_env(os.environ, project),
        check=True,
    )
    ensure_crash_detection(get_current_settings().flows.heartbeat_frequency or 180)
