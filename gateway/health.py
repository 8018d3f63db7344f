"""What `GET /healthz` checks: each dependency the gateway needs, with the reason when one fails."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from prefect.client.orchestration import get_client
from sqlalchemy import text

from vidp import catalog, storage
from vidp.ffmpeg import ffmpeg_exe

__all__ = ["check_all"]


def _prefect() -> None:
    with get_client(sync_client=True) as client:
        error = client.api_healthcheck()
    if error is not None:
        raise error


def _database() -> None:
    with catalog.session() as s:
        s.execute(text("SELECT 1"))


def _storage(uploads: str) -> None:
    storage.at(uploads).check_writable(uploads)


def _ffmpeg() -> None:
    subprocess.run([ffmpeg_exe(), "-version"], check=True, capture_output=True, timeout=10)


def check_all(uploads: str) -> dict[str, str]:
    """Check name -> "ok", or the first line of what went wrong."""
    checks: dict[str, Callable[[], None]] = {
        "prefect": _prefect,
        "database": _database,
        "storage": lambda: _storage(uploads),
        "ffmpeg": _ffmpeg,
    }
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as e:  # a health check reports every failure instead of raising it
            results[name] = (str(e).splitlines() or [type(e).__name__])[0]
    return results
