"""Saved shortlists through the API, over real SQLite files: saving, opening, renaming,
starring with notes, deleting, exporting, restarts, and concurrent writers that lose
nothing (the database's own failures: test_shortlists_database.py)."""

from __future__ import annotations

import csv
import dataclasses
import io
import random
import threading
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from benchmarks.shortlist_writes import client, lost_writes
from shortlister.serve.app import create_app
from shortlister.serve.shortlists import DB_ENV, ShortlistStoreError
from shortlister.serve.state import build_state
from tests.serve.helpers import LOCAL_URL, running_server, tfidf_settings


@pytest.fixture(scope="module")
def state(small_pool_csv):
    return build_state(tfidf_settings(small_pool_csv))


@pytest.fixture(scope="module")
def ids(state) -> list[str]:
    return [state.rows[i]["id"] for i in range(40)]


@pytest.fixture(autouse=True)
def _no_db_env(monkeypatch):
    monkeypatch.delenv(DB_ENV, raising=False)  # each test names its own file


def _app(state, db: Path | str, **overrides):
    return create_app(dataclasses.replace(state.settings, db=str(db), **overrides), state=state)


def _client(state, db: Path | str) -> TestClient:
    return TestClient(_app(state, db), base_url=LOCAL_URL)


def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


def _error(response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error, body
    return body["detail"]


def test_create_list_open_rename_star_and_delete(state, ids, tmp_path):
    client = _client(state, tmp_path / "s.db")
    assert _ok(client.get("/shortlists")) == {"items": []}
    made = _ok(
        client.post(
            "/shortlists",
            json={"name": " HR, Berlin ", "query": "aspiring human resources",
                  "method": "tfidf", "stars": [{"id": ids[0], "note": "onboarding"}]},
        ),
        201,
    )  # fmt: skip
    sid = made["id"]
    assert made["name"] == "HR, Berlin" and made["n_stars"] == 1
    assert made["stars"] == [{"id": ids[0], "note": "onboarding", "starred_at": made["created_at"]}]
    other = _ok(client.post("/shortlists", json={"name": "Nurses"}), 201)

    _ok(client.put(f"/shortlists/{sid}/stars/{ids[1]}", json={"note": "second"}))
    _ok(client.put(f"/shortlists/{sid}/stars/{ids[2]}"))  # no body: an empty note
    edited = _ok(client.put(f"/shortlists/{sid}/stars/{ids[0]}", json={"note": "edited"}))
    # Editing a note keeps the starring order.
    notes = [(s["id"], s["note"]) for s in edited["stars"]]
    assert notes == [(ids[0], "edited"), (ids[1], "second"), (ids[2], "")]
    assert _ok(client.delete(f"/shortlists/{sid}/stars/{ids[1]}"))["n_stars"] == 2
    assert _ok(client.delete(f"/shortlists/{sid}/stars/{ids[1]}"))["n_stars"] == 2  # idempotent

    renamed = _ok(client.patch(f"/shortlists/{sid}", json={"name": "HR", "query": None}))
    assert (renamed["name"], renamed["query"], renamed["method"]) == ("HR", None, "tfidf")
    assert renamed["updated_at"] > renamed["created_at"]
    listed = _ok(client.get("/shortlists"))["items"]
    assert [(s["id"], s["n_stars"]) for s in listed] == [(sid, 2), (other["id"], 0)]
    assert "stars" not in listed[0]
    assert _ok(client.get(f"/shortlists/{sid}")) == renamed

    assert client.delete(f"/shortlists/{sid}").status_code == 204
    assert "no shortlist with id" in _error(client.get(f"/shortlists/{sid}"), 404, "not_found")
    assert [s["id"] for s in _ok(client.get("/shortlists"))["items"]] == [other["id"]]


def test_requests_the_service_cannot_save_are_refused(state, ids, tmp_path):
    client = _client(state, tmp_path / "s.db")
    sid = _ok(client.post("/shortlists", json={"name": "x"}), 201)["id"]
    assert "in the pool" in _error(client.put(f"/shortlists/{sid}/stars/nobody"), 404, "not_found")
    _error(client.put(f"/shortlists/999/stars/{ids[0]}"), 404, "not_found")
    _error(client.patch("/shortlists/999", json={"name": "y"}), 404, "not_found")
    _error(client.delete("/shortlists/999"), 404, "not_found")
    _error(client.get("/shortlists/999/export"), 404, "not_found")
    _error(client.post("/shortlists", json={"name": ""}), 422, "invalid_request")
    _error(client.post("/shortlists", json={"name": 3}), 422, "invalid_request")
    _error(client.post("/shortlists", json={"name": "x", "typo": 1}), 422, "invalid_request")
    _error(client.patch(f"/shortlists/{sid}", json={"name": None}), 422, "invalid_request")
    _error(client.patch(f"/shortlists/{sid}", json={"method": "nope"}), 422, "unknown_method")
    _error(client.patch(f"/shortlists/{sid}", json={"query": "q" * 201}), 422, "query_too_long")
    dup = [{"id": ids[0]}, {"id": ids[0]}]
    _error(client.post("/shortlists", json={"name": "x", "stars": dup}), 422, "invalid_stars")
    six = [{"id": i} for i in ids[:6]]
    _error(client.post("/shortlists", json={"name": "x", "stars": six}), 422, "too_many_stars")
    for cid in ids[:5]:
        _ok(client.put(f"/shortlists/{sid}/stars/{cid}"))
    detail = _error(client.put(f"/shortlists/{sid}/stars/{ids[5]}"), 422, "too_many_stars")
    assert "at most 5" in detail and "serve.max_stars" in detail
    _ok(client.put(f"/shortlists/{sid}/stars/{ids[4]}", json={"note": "still editable"}))
    _error(client.get(f"/shortlists/{sid}/export?format=xml"), 422, "invalid_request")


def test_the_endpoints_need_the_token_when_one_is_set(state, tmp_path, monkeypatch):
    monkeypatch.setenv(state.settings.token_env, "s3cret")
    client = _client(state, tmp_path / "s.db")
    assert client.get("/shortlists").status_code == 401
    assert client.post("/shortlists", json={"name": "x"}).status_code == 401
    auth = {"Authorization": "Bearer s3cret"}
    assert client.get("/shortlists", headers=auth).status_code == 200


def test_shortlists_survive_a_restart_and_the_env_var_picks_the_file(
    state, ids, tmp_path, monkeypatch
):
    db = tmp_path / "var" / "shortlists.db"  # the folder is made on first use
    app = _app(state, db)
    client = TestClient(app, base_url=LOCAL_URL)
    sid = _ok(client.post("/shortlists", json={"name": "kept", "query": "nurse"}), 201)["id"]
    _ok(client.put(f"/shortlists/{sid}/stars/{ids[3]}", json={"note": "call back"}))
    app.state.shortlists.close()

    again = _client(state, db)
    kept = _ok(again.get(f"/shortlists/{sid}"))
    assert (kept["name"], kept["query"]) == ("kept", "nurse")
    assert [(s["id"], s["note"]) for s in kept["stars"]] == [(ids[3], "call back")]

    elsewhere = tmp_path / "env.db"
    monkeypatch.setenv(DB_ENV, str(elsewhere))
    from_env = _client(state, db)  # serve.db names the first file; the variable wins
    assert _ok(from_env.get("/shortlists")) == {"items": []} and elsewhere.is_file()


def test_export_is_spreadsheet_safe_csv_or_json(state, ids, tmp_path):
    app = _app(state, tmp_path / "s.db")
    client = TestClient(app, base_url=LOCAL_URL)
    stars = [{"id": ids[0], "note": "+1 strong, -2 weak"}, {"id": ids[1], "note": "-5"}]
    body = {"name": '=HYPERLINK("http://x")', "query": "@risk", "method": "tfidf", "stars": stars}
    sid = _ok(client.post("/shortlists", json=body), 201)["id"]
    # A starred id the served pool no longer holds (saved over another pool): blank fields.
    app.state.shortlists.star(sid, "gone-from-pool", "=cmd|' /C calc'!A0")

    response = client.get(f"/shortlists/{sid}/export")
    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="shortlist-{sid}.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["candidate_id"] for r in rows] == [ids[0], ids[1], "gone-from-pool"]
    assert rows[0]["shortlist"] == '\'=HYPERLINK("http://x")' and rows[0]["query"] == "'@risk"
    assert rows[0]["note"] == "'+1 strong, -2 weak"
    assert rows[1]["note"] == "-5"  # a plain number is no formula
    assert rows[2]["note"] == "'=cmd|' /C calc'!A0" and rows[2]["title"] == ""
    assert rows[0]["title"] == state.rows[0]["title"] and rows[0]["position"] == "1"

    exported = _ok(client.get(f"/shortlists/{sid}/export?format=json"))
    assert exported["name"] == body["name"]  # JSON keeps the text as it is
    assert [s["in_pool"] for s in exported["stars"]] == [True, True, False]
    assert exported["stars"][0]["note"] == "+1 strong, -2 weak"
    assert exported["updated_at"] == _ok(client.get(f"/shortlists/{sid}"))["updated_at"]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> Path | str:
    """The store's database: an SQLite file, or a fresh database on a real PostgreSQL
    server (skipped, saying why, without one)."""
    if request.param == "sqlite":
        return tmp_path / "s.db"
    return request.getfixturevalue("postgres_url")


def test_concurrent_writes_lose_nothing(state, ids, database, capsys):
    threads, per_thread = 8, 25
    app = _app(state, database)
    store = app.state.shortlists
    sids = [store.create(f"list {i}").id for i in range(4)]
    expected: dict[tuple[int, str], str | None] = {}
    with running_server(app) as url:
        # Two threads on each shortlist, two candidates each: 4 stars at most, under 5.
        workers = [
            threading.Thread(
                target=client,
                args=(url, t, sids[t % 4], ids[2 * t : 2 * t + 2], per_thread, expected),
            )
            for t in range(threads)
        ]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=120)
        elapsed = time.perf_counter() - t0
    assert not any(w.is_alive() for w in workers)
    assert len(expected) == 2 * threads  # every thread finished (a failure stops it short)
    assert lost_writes(store, sids, expected) == 0
    with capsys.disabled():
        rate = threads * per_thread / elapsed
        where = "sqlite" if isinstance(database, Path) else "postgresql"
        print(f"\nshortlist writes ({where}): {threads} threads x {per_thread}: {rate:.0f} req/s")


def test_the_star_limit_holds_under_concurrent_stars(state, ids, database):
    app = _app(state, database)
    sid = app.state.shortlists.create("race").id
    statuses: list[int] = []
    with running_server(app) as url:
        import httpx2 as httpx

        barrier = threading.Barrier(10)

        def star(cid: str) -> None:
            with httpx.Client(base_url=url, timeout=60) as http:
                barrier.wait()
                statuses.append(http.put(f"/shortlists/{sid}/stars/{cid}").status_code)

        workers = [threading.Thread(target=star, args=(c,)) for c in ids[:10]]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=60)
    assert sorted(statuses) == [200] * 5 + [422] * 5
    assert len(app.state.shortlists.get(sid).stars) == 5


def test_a_file_that_is_not_a_database_stops_the_start_up(state, tmp_path):
    db = tmp_path / "shortlists.db"
    garbage = bytes(random.Random(0).randrange(256) for _ in range(8192))
    db.write_bytes(garbage)
    with pytest.raises(ShortlistStoreError) as caught:
        _app(state, db)  # create_app opens the store first
    message = str(caught.value)
    assert "\n" not in message
    assert str(db) in message and "not an SQLite database" in message
    assert "move that file aside" in message and "SHORTLISTER_DB" in message
    assert db.read_bytes() == garbage  # never a silent reset
