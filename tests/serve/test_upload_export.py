"""Uploading a candidate file from the page (replace or join the served pool) and
exporting a ranking as CSV or JSON."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient

from shortlister.embeddings.sbert import SbertConfig, SbertEmbedder
from shortlister.index.config import IndexConfig
from shortlister.ranking.indexed import index_for
from shortlister.ranking.pool import CandidatePool
from shortlister.serve.app import create_app
from shortlister.serve.method_state import MethodState
from shortlister.serve.pool_swap import LiveState
from shortlister.serve.state import ServiceState, build_state
from tests.serve.helpers import LOCAL_URL, rank_ok, tfidf_settings

# Rows 2 (no title) and 4 (no letters) are rejected; row 3's title and row 4's location
# look like spreadsheet formulas.
ROWS = [
    ("u1", "HR Manager", "Berlin, Germany"),
    ("u2", "", "Paris, France"),
    ("u3", '=HYPERLINK("http://x") Senior Recruiter', "London, United Kingdom"),
    ("u4", "1234", "=cmd|' /C calc'!A0"),
    ("u5", "Aspiring Human Resources Professional", "Houston, Texas"),
]
ACCEPTED = {"u1", "u3", "u5"}


@pytest.fixture(scope="module")
def state(small_pool_csv):
    return build_state(tfidf_settings(small_pool_csv))


@pytest.fixture
def client(state):
    """A fresh app over the module's pool: an upload swaps this app's pool only."""
    return TestClient(create_app(state.settings, state=state), base_url=LOCAL_URL)


def _frame(rows=ROWS) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "title", "location"])


def _as_bytes(kind: str, rows=ROWS) -> bytes:
    frame = _frame(rows)
    if kind == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    return frame.to_csv(index=False, sep="\t" if kind == "tsv" else ",").encode()


def _upload(client, name: str, data: bytes, mode: str = "replace"):
    return client.post("/pools/upload", files={"file": (name, data)}, data={"mode": mode})


@pytest.mark.parametrize("kind", ["csv", "tsv", "parquet"])
def test_an_upload_is_validated_as_the_cli_validates_and_replaces_the_pool(client, kind):
    response = _upload(client, f"new.{kind}", _as_bytes(kind))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["mode"], body["n_rows"], body["accepted"], body["rejected"]) == (
        "replace", 5, 3, 2
    )  # fmt: skip
    assert body["n_candidates"] == 3 and body["pool_source"] == f"upload:new.{kind}"
    rejects = {r["id"]: r for r in body["rejects"]}
    assert rejects["u2"]["row"] == 2 and rejects["u2"]["reason"].startswith("missing_title")
    assert rejects["u4"]["row"] == 4 and rejects["u4"]["field"] == "title"
    assert "row 4" in rejects["u4"]["reason"] and not body["rejects_truncated"]
    assert body["methods"] == ["tfidf"] and body["seconds"] >= 0
    # Only the new pool is ranked now, by every served method.
    found = rank_ok(client, query="human resources", top_k=10)
    assert {i["id"] for i in found["items"]} == ACCEPTED and found["n_candidates"] == 3
    assert client.get("/health").json()["n_candidates"] == 3
    assert client.get("/candidates/u5").status_code == 200
    assert client.get("/candidates/c00001").status_code == 404
    assert client.get("/pools/current").json()["pool_source"] == f"upload:new.{kind}"


def test_the_rejects_file_is_the_clis_and_spreadsheet_safe(client):
    body = _upload(client, "new.csv", _as_bytes("csv")).json()
    response = client.get(body["rejects_url"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="new.rejects.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["id"] for r in rows] == ["u2", "u4"]
    assert rows[1]["location"] == "'=cmd|' /C calc'!A0"  # neutralised, not run
    assert rows[1]["reason"].startswith("no_letters: row 4, field 'title'")
    assert client.get("/pools/upload/nope/rejects.csv").status_code == 404


def test_join_adds_rows_and_rejects_ids_already_served(client, state):
    n_served = len(state.pool)
    taken = str(state.pool["id"].iloc[0])
    rows = [*ROWS, (taken, "Talent Acquisition Specialist", "Austin, Texas")]
    body = _upload(client, "more.tsv", _as_bytes("tsv", rows), mode="join").json()
    assert body["accepted"] == 3 and body["n_candidates"] == n_served + 3
    clash = next(r for r in body["rejects"] if r["id"] == taken)
    assert clash["field"] == "id" and repr(taken) in clash["reason"] and clash["row"] == 6
    # The served candidate with that id is kept as it was, not overwritten.
    assert client.get(f"/candidates/{taken}").json()["title"] == state.rows[0]["title"]
    found = rank_ok(client, query="aspiring human resources professional", top_k=200)
    ids = {i["id"] for i in found["items"]}
    assert "u5" in ids and ids & set(state.positions)  # old and new rows ranked together
    # A second join of the same file: every id is now taken.
    again = _upload(client, "more.tsv", _as_bytes("tsv", rows), mode="join")
    assert again.status_code == 422 and again.json()["error"] == "no_candidates"
    assert client.get("/health").json()["n_candidates"] == n_served + 3


def test_an_upload_over_the_limit_gets_413_before_the_file_is_read(small_pool_csv):
    state = build_state(tfidf_settings(small_pool_csv, max_upload_bytes=4096))
    client = TestClient(create_app(state.settings, state=state), base_url=LOCAL_URL)
    big = _as_bytes("csv", ROWS * 200)
    response = _upload(client, "big.csv", big)
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert "at most 4096 bytes" in detail and "serve.max_upload_bytes" in detail
    # Streamed without a Content-Length: counted as it arrives, cut off at the limit.
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="mode"\r\n\r\nreplace\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"'
        "\r\nContent-Type: text/csv\r\n\r\n"
    ).encode()

    def chunks():
        yield head
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        "/pools/upload",
        content=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413, response.text
    assert "exceeds 4096 bytes" in response.json()["detail"]  # counted, not declared
    assert client.get("/health").json()["n_candidates"] == len(state.pool)
    # Other requests keep their own, smaller limit.
    assert client.post("/rank", json={"query": "x" * 20000}).status_code == 413


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("people.xlsx", b"PK\x03\x04 not read", "expected one of .csv"),
        ("people.parquet", b"\x00\xff garbage", "not a Parquet file"),
        ("people.csv", b"\xff\xfe\x00garbage\x00\x81", "not valid UTF-8"),
        ("people.csv", b"name,age\nAda,36\n", "people.csv"),
        ("people.csv", b"", "file is empty"),
    ],
)
def test_an_unreadable_upload_gets_422_naming_the_file(client, state, name, data, expected):
    response = _upload(client, name, data)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert name in detail and expected in detail and "shortlister-upload" not in detail
    assert client.get("/health").json()["n_candidates"] == len(state.pool)


def test_a_bad_mode_or_no_file_is_refused(client):
    response = _upload(client, "new.csv", _as_bytes("csv"), mode="merge")
    assert response.status_code == 422 and "mode" in response.json()["detail"]
    assert client.post("/pools/upload", data={"mode": "join"}).status_code == 422


def test_a_file_without_extension_is_read_by_its_content(client):
    body = _upload(client, "export", _as_bytes("tsv")).json()
    assert body["accepted"] == 3


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_round_trips_the_ranking_and_is_spreadsheet_safe(client, fmt):
    _upload(client, "new.csv", _as_bytes("csv"))
    request = {"query": "senior recruiter", "stars": ["u1"], "top_k": 10}
    items = rank_ok(client, **request)["items"]
    response = client.post(f"/rank/export?format={fmt}", json=request)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert f'filename="ranked-senior-recruiter.{fmt}"' in response.headers["content-disposition"]
    if fmt == "json":
        assert json.loads(response.text) == items
        return
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == "rank id title location screening_score score starred".split()
    assert [r["id"] for r in rows] == [i["id"] for i in items]
    assert [float(r["score"]) for r in rows] == pytest.approx([i["score"] for i in items])
    assert [r["starred"] for r in rows] == [str(i["starred"]) for i in items]
    by_id = {r["id"]: r for r in rows}
    assert by_id["u3"]["title"] == "'" + next(i["title"] for i in items if i["id"] == "u3")
    shortlist = client.post("/rank/export?format=csv&scope=shortlist", json=request)
    assert [r["id"] for r in csv.DictReader(io.StringIO(shortlist.text))] == ["u1"]


def test_export_refuses_what_rank_refuses(client):
    response = client.post("/rank/export?format=csv", json={"query": "x", "method": "nope"})
    assert response.status_code == 422 and response.json()["error"] == "unknown_method"
    assert client.post("/rank/export?format=xlsx", json={"query": "x"}).status_code == 422


def test_a_request_in_flight_keeps_the_pool_it_started_on(state):
    app = create_app(state.settings, state=state)
    live = app.state.service
    new = ServiceState(state.settings, state.pool.head(3), "other", state.methods)

    @app.get("/probe")
    def probe() -> dict:
        before = len(live.rows)
        live.swap(new)  # an upload finishing while this request runs
        return {"before": before, "after": len(live.rows), "served": len(live.served.rows)}

    client = TestClient(app, base_url=LOCAL_URL)
    n = len(state.pool)
    assert client.get("/probe").json() == {"before": n, "after": n, "served": 3}
    assert client.get("/health").json()["n_candidates"] == 3  # the next request: the new pool
    assert isinstance(live, LiveState) and len(live.rows) == 3  # outside a request: served


class HashEmbedder(SbertEmbedder):
    """Sentence-BERT's interface over hashed vectors: the re-encode and index path, offline."""

    def __init__(self) -> None:
        super().__init__(SbertConfig(cache_dir=None))

    @property
    def model(self):
        return None

    @property
    def dimension(self) -> int:
        return 16

    def _cache_ident(self) -> str:
        return "hash-embedder"

    def _encode_model(self, texts):
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[:16], np.uint8) for t in texts]
        matrix = np.asarray(rows, np.float32) - 127.5
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_a_dense_method_is_re_encoded_and_its_index_rebuilt_for_the_new_pool(state):
    settings = tfidf_settings(state.settings.candidates, index={"min_pool": 50})
    settings.methods, settings.method = ["sbert"], "sbert"
    embedder = HashEmbedder()
    matrix = embedder.encode(state.pool["title"].tolist())
    index = index_for(matrix, embedder, IndexConfig(min_pool=50))
    ranker = CandidatePool(state.pool, embedder, matrix, index=index)
    served = ServiceState(
        settings, state.pool, "default", {"sbert": MethodState("sbert", ranker, "stored", 0.0)}
    )
    client = TestClient(create_app(settings, state=served), base_url=LOCAL_URL)
    assert client.get("/health").json()["index"]["sbert"]["n"] == len(state.pool)
    rows = [(f"n{i}", t, "Houston, Texas") for i, t in enumerate(["HR Manager"] * 60)]
    body = _upload(client, "n.csv", _as_bytes("csv", rows), mode="join").json()
    assert body["n_candidates"] == len(state.pool) + 60
    index = client.get("/health").json()["index"]["sbert"]
    assert index["n"] == len(state.pool) + 60 and not index["stored"]
    assert client.get("/methods").json()["methods"][0]["source"] == "re-encoded"
    body = _upload(client, "n.csv", _as_bytes("csv", rows[:10]), mode="replace").json()
    assert body["n_candidates"] == 10
    assert client.get("/health").json()["index"]["sbert"] is None  # small: an exact scan
    found = rank_ok(client, query="HR Manager", top_k=5)
    assert {i["id"] for i in found["items"]} <= {f"n{i}" for i in range(10)}


def test_the_learned_ranker_ranks_the_uploaded_pool(tmp_path_factory, monkeypatch):
    # imported here: torch is needed by this test only
    import shortlister.ranking.ltr.io as ltr_io
    from tests.ranking.test_ltr import HashEmbedder as LtrHashEmbedder
    from tests.ranking.tiny_ranker import train_tiny_ranker, write_pool

    csv_path, data = write_pool(tmp_path_factory.mktemp("ltr_upload"))
    model_dir = train_tiny_ranker(csv_path.parent, data)
    monkeypatch.setattr(ltr_io, "build_embedder", lambda cfg: LtrHashEmbedder())
    settings = tfidf_settings(csv_path, ltr_model_dir=str(model_dir))
    client = TestClient(create_app(settings), base_url=LOCAL_URL)
    body = _upload(client, "new.csv", _as_bytes("csv")).json()
    assert set(body["methods"]) == {"tfidf", "ranknet"} and body["unavailable"] == {}
    found = rank_ok(client, query="human resources", method="ranknet", stars=["u1"], top_k=10)
    assert [i["id"] for i in found["items"]][0] == "u1"
    assert {i["id"] for i in found["items"]} == ACCEPTED
