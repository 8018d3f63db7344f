"""Prefect's temporary API for `vidp process`: a new PREFECT_HOME starts from vidp's copy of
Prefect's empty schema rather than from Prefect's 200 migrations, and that copy is exactly what
the migrations of the Prefect installed make."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from prefect.client.orchestration import SyncPrefectClient

from vidp.cli.temporary_api import TemporaryAPI, empty_schema, migrate, start_from_empty_schema

_Schema = tuple[dict[str, list[str]], list[tuple[str]], dict[str, int]]


def _schema(database: Path) -> _Schema:
    """Every table, index and trigger (its SQL's lines in order: Alembic's batch migrations
    list a table's constraints in no fixed order), Alembic's revision, the rows of each table."""
    with closing(sqlite3.connect(database)) as db:
        made = db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")
        objects = {
            name: sorted(line.strip(" \t,") for line in sql.splitlines()) for name, sql in made
        }
        revision = db.execute("SELECT version_num FROM alembic_version").fetchall()
        tables = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    return objects, revision, rows


def test_the_packaged_empty_schema_is_what_prefects_migrations_make(tmp_path: Path) -> None:
    """After a Prefect upgrade this fails until `make prefect-schema` makes the new one (until
    then a new home runs Prefect's migrations, as without a copy)."""
    assert empty_schema().exists(), f"no {empty_schema().name}: run make prefect-schema"
    made = tmp_path / "prefect.db"
    migrate(made)
    assert _schema(made) == _schema(empty_schema())


def test_only_a_sqlite_database_not_made_yet_starts_from_the_copy(tmp_path: Path) -> None:
    new = tmp_path / "new home" / "prefect.db"
    assert start_from_empty_schema(f"sqlite+aiosqlite:///{new}")
    assert new.read_bytes() == empty_schema().read_bytes()
    assert list(new.parent.iterdir()) == [new]  # no draft left beside it

    used = tmp_path / "used.db"
    used.write_bytes(b"a database with runs in it")
    assert not start_from_empty_schema(f"sqlite+aiosqlite:///{used}")
    assert used.read_bytes() == b"a database with runs in it"

    memory = "sqlite+aiosqlite:///file::memory:?cache=shared&uri=true&check_same_thread=false"
    assert not start_from_empty_schema(memory)
    assert not start_from_empty_schema("postgresql+asyncpg://prefect@127.0.0.1/prefect")
    assert not start_from_empty_schema(None)


@pytest.mark.slow
def test_a_new_home_records_runs_from_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary API of a first run in a new home serves from the copy, at Prefect's head."""
    home = tmp_path / "home"
    monkeypatch.setenv("PREFECT_HOME", str(home))
    api = TemporaryAPI()
    try:
        assert api.wait()
        with SyncPrefectClient(api.url) as client:
            flow_id = client.create_flow_from_name("recorded")
            assert client.read_flow(flow_id).name == "recorded"
    finally:
        api.stop()
    assert _schema(home / "prefect.db")[:2] == _schema(empty_schema())[:2]
