"""Opening the shortlists database: the URL, the engine, the schema's migrations, checks.

`open_engine` runs Alembic's `upgrade head` and, on SQLite, `PRAGMA integrity_check`
and a write, so a database the service cannot use stops it at start-up with one line
that names the file and what to do, never a silent reset nor a failure on the first
save. SQLite runs in WAL mode (readers never wait for the writer) with a busy timeout,
and every write transaction begins IMMEDIATE: it takes the write lock first, so two
writers queue instead of one failing half-way (a deferred transaction that reads, then
writes, gets SQLITE_BUSY at once when another writer got in between).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from shortlister.core.errors import ShortlisterError

logger = logging.getLogger(__name__)

DB_ENV = "SHORTLISTER_DB"
MIGRATIONS = Path(__file__).parent / "migrations"
# Seconds a writer waits for another's lock before its request fails: writes take
# milliseconds, so only a stuck process holds it this long.
BUSY_TIMEOUT_S = 15.0
# Execution option a write session sets: on SQLite its transactions begin IMMEDIATE.
IMMEDIATE = "shortlister_immediate"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_WHERE = "point serve.db (or the SHORTLISTER_DB environment variable) at another file"


class ShortlistStoreError(ShortlisterError):
    """A shortlists database that cannot be used: says which and what to do."""


def database_url(db: str, environ: Mapping[str, str] = os.environ) -> str:
    """SHORTLISTER_DB if set, else `db` (serve.db): an SQLAlchemy URL, or a file path
    (relative to the working folder), which means an SQLite file."""
    value = (environ.get(DB_ENV) or db).strip()
    if not value:
        raise ShortlistStoreError(f"serve.db and {DB_ENV} are empty; give an SQLite file path")
    if _URL.match(value):
        return value
    return URL.create("sqlite", database=str(Path(value).expanduser())).render_as_string()


def describe(url: str | URL) -> str:
    """The database as an error names it: an SQLite file's path, else the URL sans password."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def open_engine(url: str) -> Engine:
    """An engine on `url` whose schema is at the newest revision; ShortlistStoreError if
    the database is missing its folder, unwritable, corrupt, not a database, newer than
    this code, or unreachable."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ShortlistStoreError(
            f"the shortlists database URL {url!r} cannot be parsed ({exc}); give an SQLite "
            "file path or a URL such as postgresql+psycopg://user@host/db"
        ) from None
    where = describe(parsed)
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        _make_folder(parsed.database, where)
    try:
        engine = _engine(parsed, sqlite)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        hint = ' (for PostgreSQL: pip install "psycopg[binary]")' if "postgres" in url else ""
        raise ShortlistStoreError(
            f"the shortlists database {where} needs a driver that is not installed ({exc}); "
            f"install it{hint}, or {_WHERE}"
        ) from None
    try:
        with engine.connect() as conn:
            if sqlite:
                _check_integrity(conn, where)
            with conn.execution_options(**{IMMEDIATE: True}).begin():
                _upgrade(conn, where)
                # A write even when there was nothing to migrate: a read-only file fails now.
                conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
    except DBAPIError as exc:
        engine.dispose()
        raise ShortlistStoreError(_explain(where, exc, sqlite)) from None
    except ShortlistStoreError:
        engine.dispose()
        raise
    return engine


def alembic_config(conn: Connection | None = None, *, url: str | None = None) -> Config:
    """Alembic's settings for the shipped migrations, to run on `conn` (within its
    transaction) or on the database at `url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = conn
    return config


def _engine(url: URL, sqlite: bool) -> Engine:
    if not sqlite:
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # The driver's own transaction handling is off: it would begin lazily and deferred,
        # and commit around DDL; the "begin" hook below says BEGIN itself.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _make_folder(database: str | None, where: str) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).expanduser().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if isinstance(exc, FileExistsError | NotADirectoryError):
            reason = "a part of its path is a file, not a folder"
        else:
            reason = exc.strerror or str(exc)
        raise ShortlistStoreError(
            f"cannot create the folder of the shortlists database {where}: {reason}; "
            f"create it, or {_WHERE}"
        ) from None


def _check_integrity(conn: Connection, where: str) -> None:
    problems = [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check")]
    if problems != ["ok"]:
        shown = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
        raise ShortlistStoreError(
            f"the shortlists database {where} is corrupt (integrity_check: {shown}); "
            f"restore it from a backup or move it aside to start an empty one, or {_WHERE}"
        )
    conn.rollback()  # ends the read, so the migration's transaction can begin IMMEDIATE


def _upgrade(conn: Connection, where: str) -> None:
    try:
        command.upgrade(alembic_config(conn), "head")
    except CommandError as exc:
        # The database's revision is not one of ours: a newer shortlister wrote it.
        raise ShortlistStoreError(
            f"the shortlists database {where} has a schema this shortlister does not know "
            f"({exc}); run the newer shortlister that wrote it, or {_WHERE}"
        ) from None


def _explain(where: str, exc: DBAPIError, sqlite: bool) -> str:
    reason = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
    if not sqlite:
        return (
            f"cannot use the shortlists database {where}: {reason}; check that the server "
            f"is running and the URL in serve.db or {DB_ENV} (user, password, database name)"
        )
    if "not a database" in reason:
        return (
            f"the shortlists database {where} is not an SQLite database ({reason}); move "
            f"that file aside to start an empty one, or {_WHERE}"
        )
    if "malformed" in reason or "corrupt" in reason:
        return (
            f"the shortlists database {where} is corrupt ({reason}); restore it from a "
            f"backup or move it aside to start an empty one, or {_WHERE}"
        )
    if "readonly" in reason or "read-only" in reason:
        return (
            f"the shortlists database {where} is read-only ({reason}); make the file and "
            f"its folder writable, or {_WHERE}"
        )
    if "unable to open" in reason:
        return (
            f"cannot open the shortlists database {where} ({reason}); check that its folder "
            f"exists and is writable, or {_WHERE}"
        )
    return f"cannot use the shortlists database {where}: {reason}; {_WHERE}"
