"""Real Prefect servers for the tests, the errors their services log, and what they hold."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.postgres import create_database
from helpers.processes import free_port, serving

__all__ = [
    "server_errors",
    "server_errors_after",
    "prefect_server_process",
    "suite_prefect_server",
    "flow_runs",
    "ui_url",
]

_TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d\.\d+ \|")


def server_errors(log: str) -> list[str]:
    """The errors a Prefect server logged: each ERROR or CRITICAL record, traceback included."""
    records: list[list[str]] = []
    for line in log.splitlines():
        if _TIMESTAMP.match(line) or not records:
            records.append([line])
        else:
            records[-1].append(line)  # a continuation: a traceback or a multi-line message
    return [
        "\n".join(r)
        for r in records
        if any(level in r[0] for level in ("| ERROR", "| CRITICAL")) or "Traceback" in "".join(r)
    ]


def server_errors_after(log: Path, offset: int) -> list[str]:
    """The errors the server logged in `log` past its first `offset` bytes."""
    with log.open() as f:
        f.seek(offset)
        return server_errors(f.read())


@contextmanager
def prefect_server_process(home: Path, **settings: str) -> Iterator[str]:
    """A real `prefect server start` on a free loopback port, with PREFECT_HOME=`home` and the
    Prefect `settings` given, while the block runs; yields its API URL. It logs to
    `home/server.log`; the block fails if any service logged an error in it."""
    log = home / "server.log"
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",
        **settings,
    }
    env.pop("PREFECT_API_URL", None)
    url = f"http://127.0.0.1:{port}/api"
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    with serving([*command, "--port", str(port)], env, log, f"{url}/health", timeout_s=120):
        yield url
        errors = server_errors(log.read_text())
        assert not errors, "the Prefect server logged errors:\n" + "\n".join(errors)[-4000:]


@contextmanager
def suite_prefect_server(home: Path, postgres: str) -> Iterator[str]:
    """A Prefect server on a new database of the PostgreSQL server `postgres`, with its UI, that
    this process and the subprocesses it starts use (PREFECT_API_URL) while the block runs;
    yields its API URL."""
    database = create_database(postgres, "prefect")
    with prefect_server_process(
        home,
        PREFECT_API_DATABASE_CONNECTION_URL=database.replace("postgresql:", "postgresql+asyncpg:"),
        PREFECT_UI_ENABLED="true",  # the browser tests look at the UI
    ) as url:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        os.environ["PREFECT_API_URL"] = url
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=10)  # deliver the last run logs before it stops
        os.environ.pop("PREFECT_API_URL", None)


def flow_runs(deployment: str) -> list:
    """The runs of `deployment` ("flow/name") on the Prefect server the settings name."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    with get_client(sync_client=True) as client:
        target = DeploymentFilterId(any_=[client.read_deployment_by_name(deployment).id])
        return client.read_flow_runs(deployment_filter=DeploymentFilter(id=target))


def ui_url(api_url: str) -> str:
    """The Prefect UI's address on the server whose API is at `api_url`."""
    return api_url.removesuffix("/api")
