"""The video catalog: one row per video, written by the flow, read and edited by the gateway.

A real database through SQLAlchemy: a SQLite file by default (`VIDP_CATALOG_URL`), PostgreSQL by
URL. Alembic owns the schema (`vidp catalog upgrade`); the embedded SQLite default is brought to
the current schema on first use, so a laptop needs no setup. A server database is never migrated
behind its operator's back: opening one that is behind says which command to run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Float,
    String,
    Text,
    create_engine,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from vidp.settings import get_settings

if TYPE_CHECKING:  # annotations only: no need to load the pipeline's models
    from vidp.manifest import Manifest

__all__ = [
    "CatalogNotMigrated",
    "Status",
    "Video",
    "catalog_url",
    "edit",
    "engine",
    "metadata",
    "record_failed",
    "record_published",
    "record_queued",
    "record_running",
    "remove",
    "session",
    "upgrade",
]


Status = Literal["queued", "running", "completed", "failed"]


class _Base(DeclarativeBase):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


class Video(_Base):
    """A video the pipeline has seen, by the same id its manifest has."""

    __tablename__ = "videos"

    video_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    source_uri: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(Text)
    # Set when the gateway stored the upload itself: DELETE may remove it when asked.
    upload_uri: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    # Where the last completed run published: kept while the video runs again, so that DELETE
    # still removes those outputs. Its manifest is shown only while it describes the status.
    manifest_uri: Mapped[str | None] = mapped_column(Text)
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=_now, index=True
    )


metadata = _Base.metadata


class CatalogNotMigrated(RuntimeError):
    """The database's schema is not the one this version of vidp expects."""


def _alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("vidp").joinpath("migrations")))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def catalog_url() -> str:
    """`VIDP_CATALOG_URL` as SQLAlchemy needs it: `postgresql://` means psycopg 3 here (SQLAlchemy's
    default would be psycopg2), and a SQLite file's folder exists."""
    parsed = make_url(get_settings().catalog_url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return parsed.render_as_string(hide_password=False)


def upgrade(url: str) -> str:
    """Bring the catalog at `url` to the current schema; return its revision."""
    command.upgrade(_alembic_config(url), "head")
    return _head(url)


def _head(url: str) -> str:
    return ScriptDirectory.from_config(_alembic_config(url)).get_current_head() or ""


def _current(bound: Engine) -> str | None:
    with bound.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


_ENGINE_LOCK = threading.Lock()


def engine(url: str) -> Engine:
    """The catalog's engine, one per URL and process, checked to be at the current schema
    (SQLite: migrated if needed)."""
    # The gateway's first requests arrive together, each in its own thread: without the lock,
    # each would make an engine, a connection pool and a schema check of its own.
    with _ENGINE_LOCK:
        return _engine(url)


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    bound = create_engine(url, pool_pre_ping=True)
    current, head = _current(bound), _head(url)
    if current != head and make_url(url).get_backend_name() == "sqlite":
        current = upgrade(url)
    if current != head:
        raise CatalogNotMigrated(
            f"the catalog at {make_url(url).render_as_string()} is at schema {current or 'none'}, "
            f"not {head}: run `vidp catalog upgrade`"
        )
    return bound


@contextmanager
def session() -> Iterator[Session]:
    """A transaction on the catalog: committed when the block ends, rolled back on error."""
    with Session(engine(catalog_url()), expire_on_commit=False) as s, s.begin():
        yield s


def _get_or_new(s: Session, video_id: str) -> Video:
    """The video's entry, added to the session when it is new."""
    video = s.get(Video, video_id)
    if video is None:
        video = Video(video_id=video_id, tags=[])
        s.add(video)
    return video


def record_queued(
    video_id: str,
    filename: str,
    upload_uri: str,
    flow_run_id: str,
    title: str | None,
    tags: list[str],
) -> None:
    """The gateway stored an upload and started its run."""
    with session() as s:
        video = _get_or_new(s, video_id)
        video.status, video.error, video.manifest = "queued", None, None
        video.filename, video.upload_uri, video.source_uri = filename, upload_uri, upload_uri
        video.flow_run_id = flow_run_id
        video.title = title if title is not None else video.title
        video.tags = tags or video.tags


def record_running(video_id: str, source_uri: str, filename: str, flow_run_id: str | None) -> None:
    """The flow has the video: create its entry, or mark an existing one running again."""
    with session() as s:
        video = _get_or_new(s, video_id)
        video.status, video.manifest = "running", None
        video.source_uri, video.filename = source_uri, filename
        video.flow_run_id = flow_run_id
        video.error = None


def record_published(manifest: Manifest) -> None:
    """The video's outputs and manifest are published; the entry keeps the manifest's JSON."""
    with session() as s:
        video = _get_or_new(s, manifest.video_id)
        video.status = "completed"
        video.manifest, video.manifest_uri = manifest.model_dump(mode="json"), manifest.uri
        video.source_uri = manifest.source.uri
        video.filename = manifest.source.filename
        video.duration_s = manifest.timings_s.total
        video.error = None


def record_failed(video_id: str, reason: str) -> None:
    """The run for this video failed; keep the reason for whoever asks."""
    with session() as s:
        video = _get_or_new(s, video_id)
        video.status, video.error = "failed", reason


def ended_unfinished(state_name: str, message: str | None) -> str:
    """The reason kept for a run that ended before its flow could record why."""
    return f"run {state_name.lower()}: {message or 'no message'}"


def record_run_ended(flow_run_id: str, reason: str) -> list[str]:
    """Runs that ended without finishing (their worker died, they were cancelled) cannot say so
    themselves: the entries still queued or running on `flow_run_id` get `reason`. Returns
    their video ids."""
    with session() as s:
        videos = s.scalars(
            select(Video).where(
                Video.flow_run_id == flow_run_id, Video.status.in_(("queued", "running"))
            )
        ).all()
        for video in videos:
            video.status, video.error = "failed", reason
        return [v.video_id for v in videos]


def edit(video_id: str, title: str | None, tags: list[str] | None) -> Video | None:
    """Change the editable metadata; None leaves a field as it is."""
    with session() as s:
        video = s.get(Video, video_id)
        if video is None:
            return None
        if title is not None:
            video.title = title
        if tags is not None:
            video.tags = tags
    return video


def remove(video_id: str) -> None:
    with session() as s:
        video = s.get(Video, video_id)
        if video is not None:
            s.delete(video)
