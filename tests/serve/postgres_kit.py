"""A real PostgreSQL server for the shortlist store's tests: Debian's (or a local build's)
initdb and pg_ctl on 127.0.0.1, one throwaway cluster per test session, one database per
test. Skipped, saying why, without the psycopg driver or the server binaries. initdb
refuses to run as root, so as root the server runs as the `postgres` system user."""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_databases = itertools.count()


def _server_bin() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl", path=str(Path(found).parent)):
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


def _run_as() -> list[str]:
    """The command prefix that runs the server binaries as a user initdb accepts."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no `postgres` user for initdb")
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root and runuser is missing (initdb refuses root)")
    return [runuser, "-u", "postgres", "--"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_server() -> Iterator[str]:
    """Start a cluster; yield its server URL (no database name); stop and remove it."""
    pytest.importorskip("psycopg", reason="psycopg (PostgreSQL driver) is not installed")
    bin_dir = _server_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl)")
    prefix = _run_as()
    # Not under pytest's tmp_path: its folders are private to root, the server's user
    # must own the data folder and reach the socket folder.
    home = Path(tempfile.mkdtemp(prefix="shortlister-pg-"))
    home.chmod(0o755)
    if prefix:
        shutil.chown(home, user="postgres")
    data, port = home / "data", _free_port()
    try:
        subprocess.run([*prefix, bin_dir / "initdb", "-D", data, "-U", "test", "-A", "trust"],
                       check=True, capture_output=True)  # fmt: skip
        options = f"-p {port} -k {home} -h 127.0.0.1"
        start = [bin_dir / "pg_ctl", "-D", data, "-w", "-o", options, "-l", home / "server.log"]
        subprocess.run([*prefix, *start, "start"], check=True, capture_output=True)
    except subprocess.CalledProcessError as exc:
        log = home / "server.log"
        detail = log.read_text(errors="replace")[-500:] if log.exists() else exc.stderr
        shutil.rmtree(home, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {detail!r}")
    try:
        yield f"postgresql+psycopg://test@127.0.0.1:{port}"
    finally:
        subprocess.run([*prefix, bin_dir / "pg_ctl", "-D", data, "-m", "fast", "stop"],
                       check=False, capture_output=True)  # fmt: skip
        shutil.rmtree(home, ignore_errors=True)


def new_database(server: str) -> str:
    """A fresh, empty database on the server; its SQLAlchemy URL."""
    import psycopg

    name = f"shortlists_{os.getpid()}_{next(_databases)}"
    plain = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"
