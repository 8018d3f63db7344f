"""Prefect's temporary API server for one `vidp process` when no Prefect server runs.

Prefect starts the same server itself when no API is set (`SubprocessASGIServer`), but only
after importing its whole server package into the calling process: 2.3 s of one core and 60 MB
that the run then keeps. Started here as its own process at once, it comes up while the
pipeline's modules load, and the run's process stays smaller.

`python -m vidp.cli.temporary_api PORT` serves Prefect's app as `prefect.server.api.server` builds it
for an ephemeral server: no UI, and only the services Prefect runs in ephemeral servers. A new
SQLite database (a new PREFECT_HOME) starts as a copy of Prefect's empty schema, made by Prefect's
own migrations (`python -m vidp.cli.temporary_api --make-schema`, `make prefect-schema`): run on
every first start, those take 5 s of one core (34,000 round trips through aiosqlite).
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import closing
from importlib.resources import files
from pathlib import Path

__all__ = [
    "TemporaryAPI",
    "empty_schema",
    "make_empty_schema",
    "migrate",
    "start_from_empty_schema",
]

_SCHEMAS = Path(str(files("vidp") / "assets"))

_NO_BLOCK_REGISTRATION = {
    "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
    "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
}


# It answers in about 3.5 s on 2 idle cores; with both cores busy (another video's encode,
# the other half of the test suite) it took past Prefect's default of 20 s. A server that
# cannot start ends the wait at once (its process exits), so a longer wait costs nothing.
STARTUP_S = 90


class TemporaryAPI:
    """A temporary Prefect API server on a free loopback port, in its own process."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/api"
        # Registering block types loads every installed collection (prefect-aws and boto3 among
        # them): 70 MB and 0.3 s here. A temporary server needs none: a block a run loads was
        # saved, with its type, against this database before. The user's settings win.
        env = {**_NO_BLOCK_REGISTRATION, **os.environ}
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(port)], stdout=subprocess.DEVNULL, env=env
        )

    def wait(self) -> bool:
        """Whether it answers /health within PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS
        where the user set it, else STARTUP_S."""
        import httpx
        from prefect.settings import get_current_settings

        ephemeral = get_current_settings().server.ephemeral
        set_by_user = "startup_timeout_seconds" in ephemeral.model_fields_set
        deadline = time.monotonic() + (
            ephemeral.startup_timeout_seconds if set_by_user else STARTUP_S
        )
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline and self._process.poll() is None:
                try:
                    if client.get(f"{self.url}/health").is_success:
                        return True
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def empty_schema() -> Path:
    """The copy of Prefect's empty schema for the Prefect installed (it may not exist)."""
    import prefect

    return _SCHEMAS / f"prefect-{prefect.__version__}.db"


def migrate(database: Path) -> None:
    """Make or upgrade the SQLite database at `database` with Prefect's own migrations."""
    subprocess.run(
        [sys.executable, "-m", "prefect", "server", "database", "upgrade", "--yes"],
        env={
            **os.environ,
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{database}",
        },
        check=True,
        capture_output=True,
    )


def make_empty_schema() -> Path:
    """Make `empty_schema()` for the Prefect installed."""
    out = empty_schema()
    with tempfile.TemporaryDirectory() as scratch:
        made = Path(scratch) / "prefect.db"
        migrate(made)
        with closing(sqlite3.connect(made)) as db:  # whole, with what its WAL may still hold
            db.execute("VACUUM INTO ?", (str(out),))
    return out


def start_from_empty_schema(url: str | None) -> bool:
    """Whether the database at `url` was made now, as a copy of `empty_schema()`: only a SQLite
    file that does not exist yet, where there is a copy for this Prefect. Prefect still runs its
    migrations as it starts, and finds the copy at their head. A database made meanwhile by
    another process is left as it is."""
    from sqlalchemy.engine import make_url

    schema = empty_schema()
    if url is None or not schema.exists():
        return False
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.query:
        return False  # PostgreSQL, or SQLite in memory (its options are in the query)
    database = Path(parsed.database)
    if database.exists():
        return False
    database.parent.mkdir(parents=True, exist_ok=True)
    draft = database.with_name(f".{database.name}.{uuid.uuid4().hex[:8]}")
    shutil.copyfile(schema, draft)
    try:
        os.link(draft, database)  # unlike a rename, never over another process's database
    except OSError:  # there already, or no hard links here: Prefect's migrations make it
        return False
    finally:
        draft.unlink()
    return True


def _serve(port: int) -> None:
    import uvicorn
    from prefect.server.api.server import create_app
    from prefect.settings import get_current_settings

    url = get_current_settings().server.database.connection_url
    start_from_empty_schema(url.get_secret_value() if url else None)

    uvicorn.run(
        create_app(ephemeral=True, final=True),
        host="127.0.0.1",
        port=port,
        log_level="error",
        lifespan="on",
    )


if __name__ == "__main__":
    if sys.argv[1] == "--make-schema":
        print(make_empty_schema())
    else:
        _serve(int(sys.argv[1]))
