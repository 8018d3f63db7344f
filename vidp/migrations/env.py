"""Alembic's entry point for the catalog (`vidp catalog upgrade` runs it)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from vidp.catalog import metadata

url = context.config.get_main_option("sqlalchemy.url")
assert url, "vidp.catalog sets sqlalchemy.url"
if context.is_offline_mode():  # `alembic upgrade --sql`: print the SQL for a DBA
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    with create_engine(url).connect() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
