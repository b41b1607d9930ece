"""Alembic's entry for the shortlists' schema.

ShortlistStore.open (database.open_engine) runs it on its own connection, inside its
transaction; `database.alembic_config(url=...)` runs it on a URL (to write a revision:
see docs/shortlists.md).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from shortlister.serve.shortlists.models import Base

config = context.config


def _migrate(connection) -> None:
    # render_as_batch: SQLite alters a table by rebuilding it; batch mode writes that.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database: give alembic_config(url=...) or a connection")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("the shortlists' migrations run online only (give a database URL)")
run()
