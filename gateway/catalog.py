"""The catalog as the gateway reads it: asynchronous, pooled, one statement per read.

The flow writes the catalog (`vidp.catalog`) with a plain engine; the gateway's requests read it
here without holding a thread each.
"""

from __future__ import annotations

from typing import Any

import anyio
from sqlalchemy import Executable, Result, bindparam, func, select, true
from sqlalchemy.engine import RowMapping, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from vidp.catalog import Video, engine

__all__ = ["Reader"]

_SUMMARY = [c for c in Video.__table__.c if c.name != "manifest"]  # what a page lists
_FIND = select(Video.__table__).where(Video.video_id == bindparam("video_id"))


class Reader:
    """The catalog as the gateway's requests read it: without a worker thread per read, on an
    async engine of `connections` pooled connections, each read one autocommitted statement (no
    BEGIN and ROLLBACK round trips). Reads queue, first come first served, at a gate as wide as
    the pool: a connection handed back to the pool goes to whichever read asks next, so with 200
    readers waiting in the pool some waited seconds while others never did."""

    def __init__(self, url: str, connections: int) -> None:
        self._url = url
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            parsed = parsed.set(drivername="sqlite+aiosqlite")
        self._engine = create_async_engine(
            parsed, pool_size=connections, max_overflow=0, isolation_level="AUTOCOMMIT"
        )
        self._gate = anyio.CapacityLimiter(connections)
        self._checked = False

    async def _read(self, statement: Executable, **params: Any) -> Result[Any]:
        """The statement's rows, buffered. A database restarted since a pooled connection was
        made fails the first read on it: the pool then drops its older connections, and the read
        is made again on a new one (pre-pinging instead costs a round trip per read)."""
        if not self._checked:  # the schema check (SQLite: its migration) is sync, and done once
            await anyio.to_thread.run_sync(engine, self._url)
            self._checked = True
        try:
            return await self._execute(statement, params)
        except DBAPIError as e:
            if not e.connection_invalidated:
                raise
            return await self._execute(statement, params)

    async def _execute(self, statement: Executable, params: dict[str, Any]) -> Result[Any]:
        async with self._gate, self._engine.connect() as connection:
            return await connection.execute(statement, params)

    async def find(self, video_id: str) -> Video | None:
        """The video's entry, detached."""
        row = (await self._read(_FIND, video_id=video_id)).first()
        return Video(**row._mapping) if row is not None else None

    async def page(
        self, status: str | None, limit: int, offset: int
    ) -> tuple[list[RowMapping], int]:
        """Videos, most recently updated first, and how many match in all: one statement, the
        gateway's most frequent read, with summaries (no manifests) and no ORM objects."""
        matching = Video.status == status if status else true()
        query = select(*_SUMMARY, func.count().over().label("total")).where(matching)
        query = query.order_by(Video.updated_at.desc(), Video.video_id).limit(limit).offset(offset)
        rows = (await self._read(query)).mappings().all()
        if rows or not offset:
            return list(rows), rows[0]["total"] if rows else 0
        # Past the last page: no row to carry the count.
        counted = await self._read(select(func.count()).select_from(Video).where(matching))
        return [], counted.scalar_one()

    async def close(self) -> None:
        await self._engine.dispose()
