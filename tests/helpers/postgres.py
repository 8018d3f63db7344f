"""Real PostgreSQL servers (Debian's `postgresql` package) and databases on them."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

from helpers.processes import free_port

__all__ = ["PostgresServer", "postgres_server", "create_database"]


class PostgresServer(NamedTuple):
    url: str  # postgresql://vidp@127.0.0.1:<port>/postgres
    pg_ctl: list[str]  # pg_ctl of this server, run as its user: append "stop", "start"...


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on a free loopback port while the block runs, run by the `postgres`
    user when the tests run as root (PostgreSQL refuses root)."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        pytest.fail(
            "PostgreSQL is needed: run tests/debian-packages.sh or apt-get install postgresql",
            pytrace=False,
        )
    bindir = bins[-1].parent
    root = Path(tempfile.mkdtemp(prefix="vidp-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "vidp", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    pg_ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w"]
    pg_ctl += ["-l", str(root / "server.log")]
    subprocess.run([*pg_ctl, "start"], check=True, capture_output=True)
    try:
        yield PostgresServer(f"postgresql://vidp@127.0.0.1:{port}/postgres", pg_ctl)
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def create_database(server: str, name: str) -> str:
    """A new database on the PostgreSQL `server`; returns its URL."""
    from sqlalchemy import create_engine, text

    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"{server.rsplit('/', 1)[0]}/{name}"
