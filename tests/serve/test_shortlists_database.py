"""Opening the shortlists database: the one-line start-up errors of a file that is not a
database, a corrupt one, an unwritable place, a newer schema; the Alembic migrations and
their shipping; PostgreSQL when a server and a driver are at hand."""

from __future__ import annotations

import os
import random
import sqlite3
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from shortlister.cli import main
from shortlister.serve.shortlists import DB_ENV, ShortlistStore, ShortlistStoreError, database_url
from shortlister.serve.shortlists.database import MIGRATIONS, alembic_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_db_env(monkeypatch):
    monkeypatch.delenv(DB_ENV, raising=False)


def _open_fails(path_or_url: str) -> str:
    with pytest.raises(ShortlistStoreError) as caught:
        ShortlistStore.open(database_url(path_or_url), max_stars=5)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_corrupt_database_stops_the_start_up(tmp_path):
    db = tmp_path / "shortlists.db"
    store = ShortlistStore.open(database_url(str(db)), max_stars=5)
    for i in range(300):
        store.create(f"shortlist {i} " + "x" * 150, query="q" * 200)
    store.close()
    data = bytearray(db.read_bytes())
    assert len(data) > 6 * 4096
    data[3 * 4096 : 5 * 4096] = random.Random(1).randbytes(2 * 4096)
    db.write_bytes(bytes(data))
    message = _open_fails(str(db))
    assert str(db) in message and "corrupt" in message and "backup" in message


def test_the_cli_says_one_line_and_embeds_nothing(small_pool_csv, tmp_path, monkeypatch):
    db = tmp_path / "bad.db"
    db.write_text("not a database\n")
    monkeypatch.setenv(DB_ENV, str(db))
    params = tmp_path / "params.yaml"  # absent: built-in defaults
    result = CliRunner().invoke(
        main, ["serve", "--candidates", str(small_pool_csv), "--method", "tfidf",
               "--params", str(params)],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: ") and str(db) in last and "not an SQLite database" in last


def test_an_unwritable_location_stops_the_start_up(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    message = _open_fails(str(blocker / "shortlists.db"))  # its "folder" is a file
    assert str(blocker / "shortlists.db") in message and "cannot create the folder" in message
    assert "a part of its path is a file" in message

    db = tmp_path / "ro.db"
    ShortlistStore.open(database_url(str(db)), max_stars=5).close()
    message = _open_fails(f"sqlite:///file:{db}?mode=ro&uri=true")
    assert "read-only" in message and "writable" in message


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0,
    reason="root writes through a folder's permissions, so a read-only folder blocks nothing",
)
def test_a_folder_without_write_permission_stops_the_start_up(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        message = _open_fails(str(folder / "shortlists.db"))
    finally:
        folder.chmod(0o755)
    assert str(folder / "shortlists.db") in message and "writable" in message


def test_a_schema_from_a_newer_version_is_refused(tmp_path):
    db = tmp_path / "s.db"
    ShortlistStore.open(database_url(str(db)), max_stars=5).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'f00d'")
    message = _open_fails(str(db))
    assert "schema this shortlister does not know" in message and "f00d" in message
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("f00d",)]


def test_the_migrations_create_match_and_drop_the_tables(tmp_path):
    url = database_url(str(tmp_path / "empty.db"))
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert set(inspect(engine).get_table_names()) == {
        "alembic_version", "shortlists", "shortlist_stars"
    }  # fmt: skip
    with engine.connect() as conn:
        command.check(alembic_config(conn))  # the models add nothing the migrations lack
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert inspect(engine).get_table_names() == ["alembic_version"]
    engine.dispose()
    ShortlistStore.open(url, max_stars=5).close()  # and up again


def test_the_migrations_ship_in_the_wheel():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["shortlister"]
    package = ROOT / "src" / "shortlister"
    shipped = [
        p.relative_to(package).as_posix()
        for p in MIGRATIONS.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert {"env.py", "script.py.mako"} <= {Path(p).name for p in shipped}
    assert all(any(fnmatch(p, g) for g in globs) for p in shipped), shipped


def test_database_url():
    assert database_url("var/s.db", {}) == "sqlite:///var/s.db"
    assert database_url("/abs/s.db", {}) == "sqlite:////abs/s.db"
    assert database_url("var/s.db", {DB_ENV: "other.db"}) == "sqlite:///other.db"
    pg = "postgresql+psycopg://u:p@127.0.0.1:5432/shortlists"
    assert database_url("var/s.db", {DB_ENV: pg}) == pg
    with pytest.raises(ShortlistStoreError, match="empty"):
        database_url("  ", {})
    assert "cannot be parsed" in _open_fails("postgresql://u@h:notaport/db")


def test_the_store_on_postgresql(postgres_url):
    """The migrations and the store on a real PostgreSQL server (postgres_kit)."""
    store = ShortlistStore.open(postgres_url, max_stars=5)
    sid = store.create("pg", query="nurse").id
    store.star(sid, "c1", "note")
    store.star(sid, "c1", "edited")
    assert [(s.candidate_id, s.note) for s in store.get(sid).stars] == [("c1", "edited")]
    store.close()
    reopened = ShortlistStore.open(postgres_url, max_stars=5)  # migrated: not run again
    assert reopened.get(sid).name == "pg"
    assert inspect(create_engine(postgres_url)).has_table("alembic_version")
    reopened.close()
