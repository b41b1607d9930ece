from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shortlister.data.default.build import generate_default_dataset
from shortlister.data.default.config import GenerateConfig
from shortlister.data.writers import write_csv


@pytest.fixture(autouse=True)
def shortlists_db(tmp_path_factory, monkeypatch) -> Path:
    """Every app a test creates saves its shortlists in a fresh file, not var/ of the repo."""
    path = tmp_path_factory.mktemp("db") / "shortlists.db"
    monkeypatch.setenv("SHORTLISTER_DB", str(path))
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server on 127.0.0.1 for the session (tests/serve/postgres_kit.py);
    skipped, saying why, without the driver or the server binaries."""
    from tests.serve.postgres_kit import postgres_server

    yield from postgres_server()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh database on that server, per test."""
    from tests.serve.postgres_kit import new_database

    return new_database(postgres_server)


@pytest.fixture(scope="session")
def small_pool_csv(tmp_path_factory) -> Path:
    """600 generated candidates (messy titles, some rejected by cleaning), as a CSV."""
    ds = generate_default_dataset(GenerateConfig(n_candidates=600, n_queries=5))
    path = tmp_path_factory.mktemp("pool") / "candidates.csv"
    write_csv(ds.candidates, path)
    return path


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory) -> Path:
    """A tiny random Gemma-3 folder (seconds to build, ~1 s to load): plumbing tests only,
    its rankings are random."""
    from shortlister.llm.tiny import build_tiny_model

    corpus = [
        "Software Engineer, Registered Nurse, Human Resources Manager, Teacher",
        "Answer: Yes No",
    ]
    return build_tiny_model("gemma3", tmp_path_factory.mktemp("tiny-llm") / "gemma3", corpus=corpus)


@pytest.fixture(scope="module")
def page_browser():
    """Debian's headless Chromium for the page's tests (test_page_*.py); skipped, saying
    why, without playwright or chromium. Per module: Playwright's sync API cannot run two
    at once, and test_web.py and test_hardening.py start their own."""
    from tests.serve.page_kit import launch_browser

    yield from launch_browser()


@pytest.fixture(scope="session")
def page_pool(tmp_path_factory) -> Path:
    """The page tests' pool (tests/serve/page_kit.POOL) as a CSV."""
    from tests.serve.page_kit import write_pool

    return write_pool(tmp_path_factory.mktemp("page-pool") / "candidates.csv")
