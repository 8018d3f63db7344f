"""The catalog on a SQLite file and on a real PostgreSQL server, its schema made by a command."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.manifests import published
from helpers.processes import vidp
from sqlalchemy import create_engine, text

from vidp import catalog

MANIFEST = published("0123456789abcdef", "s3://results/processed/0123456789abcdef")


def lifecycle() -> catalog.Video:
    """What the flow writes for one video: running, failed once, then published."""
    catalog.record_running("0123456789abcdef", "s3://uploads/cat.mp4", "cat.mp4", "run-1")
    catalog.record_failed("0123456789abcdef", "source not found: s3://uploads/cat.mp4")
    with catalog.session() as s:
        assert s.get(catalog.Video, "0123456789abcdef").error.startswith("source not found")
    catalog.record_published(MANIFEST)
    with catalog.session() as s:
        return s.get(catalog.Video, "0123456789abcdef")


def test_the_embedded_sqlite_catalog_needs_no_setup(tmp_path: Path, vidp_env) -> None:
    vidp_env(VIDP_CATALOG_URL=f"sqlite:///{tmp_path}/new/catalog.db")
    video = lifecycle()
    assert (video.status, video.error, video.duration_s) == ("completed", None, 12.346)
    assert video.manifest_uri == "s3://results/processed/0123456789abcdef/manifest.json"
    assert video.manifest == MANIFEST.model_dump(mode="json") and video.tags == []


@pytest.mark.parametrize(
    "again",
    [
        lambda: catalog.record_queued(
            "0123456789abcdef", "cat.mp4", "/up/cat.mp4", "run-2", "Cat", []
        ),
        lambda: catalog.record_running("0123456789abcdef", "/up/cat.mp4", "cat.mp4", "run-2"),
    ],
    ids=["uploaded again", "run again"],
)
def test_a_video_run_again_shows_no_manifest_until_it_completes_again(
    again, tmp_path: Path, vidp_env
) -> None:
    vidp_env(VIDP_CATALOG_URL=f"sqlite:///{tmp_path}/catalog.db")
    lifecycle()
    again()
    with catalog.session() as s:
        video = s.get(catalog.Video, "0123456789abcdef")
        assert (video.status in ("queued", "running"), video.manifest) == (True, None)
        # The last run's outputs are still published, and DELETE still finds them.
        assert video.manifest_uri == "s3://results/processed/0123456789abcdef/manifest.json"


@pytest.mark.integration
class TestPostgres:
    def test_upgrade_is_a_command_and_idempotent(self, postgres: str, vidp_env) -> None:
        url = postgres.rsplit("/", 1)[0] + "/catalog_cli"
        with create_engine(
            postgres.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
        ).connect() as c:
            c.execute(text("CREATE DATABASE catalog_cli"))
        for _ in range(2):
            done = vidp("catalog", "upgrade", env={"VIDP_CATALOG_URL": url})
            assert done.returncode == 0, done.stderr
            assert done.stdout.strip().endswith("at schema 0001")
        vidp_env(VIDP_CATALOG_URL=url)
        assert lifecycle().status == "completed"

    def test_an_unmigrated_server_database_is_refused_with_the_fix(
        self, postgres: str, vidp_env
    ) -> None:
        vidp_env(VIDP_CATALOG_URL=postgres)  # the server's own database, never upgraded
        with pytest.raises(catalog.CatalogNotMigrated, match="run `vidp catalog upgrade`"):
            catalog.record_running("0123456789abcdef", "a.mp4", "a.mp4", None)
