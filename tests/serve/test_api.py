from __future__ import annotations

import http.client
import json
import random
import threading
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient

from shortlister.core.errors import ConfigError
from shortlister.embeddings.base import build_embedder, save_matrix
from shortlister.serve.app import create_app
from shortlister.serve.settings import ServeSettings
from shortlister.serve.state import build_state
from tests.serve.helpers import LOCAL_URL, rank_ok, running_server, tfidf_settings

QUERY = "aspiring human resources"


@pytest.fixture(scope="module")
def state(small_pool_csv):
    return build_state(tfidf_settings(small_pool_csv))


@pytest.fixture(scope="module")
def client(state):
    return TestClient(create_app(state.settings, state=state), base_url=LOCAL_URL)


def _ids(result):
    return [item["id"] for item in result["items"]]


def test_health_methods_and_openapi(client, state):
    health = client.get("/health").json()
    assert health == {
        "status": "ok",
        "n_candidates": len(state.pool),
        "methods": ["tfidf"],
        "index": {"tfidf": None},  # sparse vectors: always an exact scan
        "auth_required": False,
    }
    methods = client.get("/methods").json()
    assert methods["default"] == "tfidf"
    assert methods["methods"][0]["source"] == "fitted"
    assert methods["limits"]["max_top_k"] == 200
    schema = client.get("/openapi.json").json()
    assert {"/rank", "/health", "/methods", "/candidates/{candidate_id}"} <= set(schema["paths"])
    assert "RankRequest" in schema["components"]["schemas"]
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200


def test_rank_returns_the_best_k_with_candidate_fields(client):
    result = rank_ok(client, query=QUERY, top_k=7)
    items = result["items"]
    assert [i["rank"] for i in items] == list(range(1, 8))
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)
    assert not any(i["starred"] for i in items)
    assert set(items[0]) == {
        "rank", "id", "title", "location", "screening_score", "score", "starred",
        "country", "group_size", "group_ids", "reasons",
    }  # fmt: skip
    assert "resource" in items[0]["title"].lower()
    assert result["method"] == "tfidf" and result["n_candidates"] > 500
    assert rank_ok(client, query=QUERY)["top_k"] == 20  # the configured default


def test_stars_are_pinned_flagged_and_reorder_the_rest(client):
    before = rank_ok(client, query=QUERY, top_k=15)
    stars = [before["items"][9]["id"], before["items"][4]["id"]]
    after = rank_ok(client, query=QUERY, top_k=15, stars=stars)
    assert _ids(after)[:2] == stars  # pinned, in star order
    assert [i["starred"] for i in after["items"]] == [True, True] + [False] * 13
    rest_before = [i for i in _ids(before) if i not in stars]
    assert _ids(after)[2:] != rest_before[:13]
    # The query vector is reused when only the stars change.
    assert after["timing"]["query_cached"] is True
    # Weight 0: the rest keep the query-only order.
    neutral = rank_ok(client, query=QUERY, top_k=15, stars=stars, star_weight=0.0)
    assert _ids(neutral)[2:] == rest_before[:13]


def test_stars_without_a_query_rank_by_the_stars(client):
    first = rank_ok(client, query=QUERY, top_k=3)["items"][0]["id"]
    result = rank_ok(client, stars=[first], top_k=5)
    assert result["query"] is None and _ids(result)[0] == first
    assert result["items"][0]["score"] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("body", "status", "error", "says"),
    [
        ('{"query": ', 400, "malformed_json", "malformed JSON"),
        ("[1, 2]", 422, "invalid_request", "dictionary"),
        ('"just a string"', 422, "invalid_request", "dictionary"),
        ('{"query": 5}', 422, "invalid_request", "body.query"),
        ('{"query": "x", "top_k": "10"}', 422, "invalid_request", "body.top_k"),
        ('{"query": "x", "top_k": 0}', 422, "invalid_request", "body.top_k"),
        ('{"query": "x", "top_k": true}', 422, "invalid_request", "body.top_k"),
        ('{"query": "x", "stars": "c00001"}', 422, "invalid_request", "body.stars"),
        ('{"query": "x", "stars": [1]}', 422, "invalid_request", "body.stars.0"),
        ('{"query": "x", "star_weight": 1.5}', 422, "invalid_request", "star_weight"),
        ('{"query": "x", "colour": "red"}', 422, "invalid_request", "Extra inputs"),
        ('{"query": "x", "top_k": 201}', 422, "top_k_too_large", "at most 200"),
        ('{"query": "' + "a" * 201 + '"}', 422, "query_too_long", "at most 200"),
        ('{"query": "x", "method": "bm42"}', 422, "unknown_method", "served: tfidf"),
        ("{}", 422, "empty_request", "query"),
        ('{"query": "   "}', 422, "empty_request", "query"),
        ('{"query": "x", "stars": ["nope"]}', 422, "invalid_stars", "unknown candidate id"),
    ],
)
def test_bad_requests_get_a_4xx_that_says_why(client, body, status, error, says):
    response = client.post("/rank", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["error"] == error
    assert says in payload["detail"]


def test_star_count_and_duplicates_are_rejected(client):
    ids = _ids(rank_ok(client, query=QUERY, top_k=6))
    six = client.post("/rank", json={"query": QUERY, "stars": ids})
    assert six.status_code == 422 and "at most 5" in six.json()["detail"]
    dup = client.post("/rank", json={"query": QUERY, "stars": [ids[0], ids[0]]})
    assert dup.status_code == 422 and f"repeated: {ids[0]}" in dup.json()["detail"]


def test_oversized_bodies_are_refused_by_length_and_by_stream(client):
    big = json.dumps({"query": "x" * 20_000}).encode()
    response = client.post("/rank", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large" and "16384" in response.json()["detail"]

    def chunks():  # no Content-Length: the size is only known while reading
        yield b'{"query": "'
        for _ in range(40):
            yield b"y" * 1000
        yield b'"}'

    streamed = client.post("/rank", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["error"] == "body_too_large"


def test_candidate_lookup_and_unknown_routes(client, state):
    cid = state.pool["id"].iat[3]
    found = client.get(f"/candidates/{cid}").json()
    assert found["id"] == cid and found["title"] == state.pool["title"].iat[3]
    missing = client.get("/candidates/no-such-id")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert client.get("/nowhere").status_code == 404
    assert client.get("/rank").status_code == 405


def test_garbage_never_gets_a_500(client):
    rng = random.Random(0)
    values = [None, 1, -1, 2.5, "", "x", [], {}, ["a"], [[1]], {"a": 1}, True, "ünïcødé", 10**30]
    for _ in range(150):
        body = {
            key: rng.choice(values)
            for key in rng.sample(["query", "stars", "method", "top_k", "star_weight", "x"], 3)
        }
        response = client.post("/rank", json=body)
        assert response.status_code < 500, (body, response.text)
        assert "detail" in response.json() or response.status_code == 200
    for raw in (b"\xff\xfe", b"{", b"null", b'{"query": "a"}' * 3, bytes(range(256))):
        response = client.post("/rank", content=raw, headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, raw


def test_bearer_token_protects_all_but_health_and_the_page(state, monkeypatch):
    monkeypatch.setenv("SHORTLISTER_API_TOKEN", "s3cret-token")
    client = TestClient(create_app(state.settings, state=state), base_url=LOCAL_URL)
    assert client.get("/health").json()["auth_required"] is True
    assert client.get("/").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    for method, path in [
        ("POST", "/rank"),
        ("GET", "/methods"),
        ("GET", "/candidates/c00001"),
    ]:
        response = client.request(method, path, json={"query": QUERY})
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"] == "unauthorized"
    wrong = client.post("/rank", json={"query": QUERY}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    basic = client.post("/rank", json={"query": QUERY}, headers={"Authorization": "Basic czNj"})
    assert basic.status_code == 401
    ok = client.post(
        "/rank", json={"query": QUERY}, headers={"Authorization": "Bearer s3cret-token"}
    )
    assert ok.status_code == 200


def test_no_token_env_means_no_auth(state, monkeypatch):
    monkeypatch.delenv("SHORTLISTER_API_TOKEN", raising=False)
    client = TestClient(create_app(state.settings, state=state), base_url=LOCAL_URL)
    assert client.post("/rank", json={"query": QUERY}).status_code == 200


def test_settings_from_config_and_validation():
    params = {
        "embeddings": {"name": "sbert"},
        "serve": {"methods": ["tfidf"], "max_top_k": 50, "default_top_k": 10},
        "paths": {"interim": "x/interim"},
    }
    settings = ServeSettings.from_config(params, port=9000)
    assert settings.method == "sbert" and settings.methods == ["sbert", "tfidf"]
    assert settings.port == 9000 and settings.paths["interim"] == "x/interim"
    assert settings.paths["models"] == "models"
    only = ServeSettings.from_config(params, methods=["tfidf"], method="tfidf")
    assert only.methods == ["tfidf"]
    with pytest.raises(ConfigError, match="unknown option"):
        ServeSettings.from_config({"serve": {"prot": 1}})
    with pytest.raises(ConfigError, match="default_top_k"):
        ServeSettings(default_top_k=300, max_top_k=200)
    with pytest.raises(ConfigError, match="star_weight"):
        ServeSettings(star_weight=2.0)


def test_stored_embeddings_are_loaded_when_they_match_the_pool(tmp_path):
    pool = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "title": [
                "Human Resources Generalist",
                "Nurse",
                "Human Resources Aide",
                "Python Developer",
            ],
            "title_raw": ["HR Generalist", "Nurse", "HR Asst", "Python Dev"],
            "location": ["Austin", "Paris", "", "Berlin"],
            "screening_score": [80.0, np.nan, 60.0, 50.0],
        }
    )
    (tmp_path / "interim").mkdir()
    pool.to_parquet(tmp_path / "interim" / "candidates.parquet", index=False)
    embedder = build_embedder({"name": "tfidf"}).fit(pool["title"].tolist())
    embedder.save(tmp_path / "models" / "tfidf" / "default")
    save_matrix(tmp_path / "emb" / "tfidf" / "default", embedder.encode(pool["title"].tolist()))
    ids_file = tmp_path / "emb" / "tfidf" / "default.ids.txt"
    ids_file.write_text("a\nb\nc\nd\n")
    paths = {
        "interim": tmp_path / "interim",
        "models": tmp_path / "models",
        "embeddings": tmp_path / "emb",
    }
    settings = ServeSettings(methods=["tfidf"], paths={k: str(v) for k, v in paths.items()})
    state = build_state(settings)
    assert state.methods["tfidf"].source == "stored"
    client = TestClient(create_app(settings, state=state), base_url=LOCAL_URL)
    result = rank_ok(client, query="human resources", top_k=2)
    assert sorted(_ids(result)) == ["a", "c"]
    assert client.get("/candidates/b").json()["screening_score"] is None
    ids_file.write_text("a\nb\nd\nc\n")  # stale: another order, so it is re-fitted
    assert build_state(settings).methods["tfidf"].source == "fitted"


def _post(conn: http.client.HTTPConnection, body: dict) -> tuple[int, dict]:
    conn.request(
        "POST", "/rank", body=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def test_concurrent_load_on_a_real_server(state):
    """4 clients x 25 requests (queries and star toggles) against uvicorn: no errors."""
    app = create_app(state.settings, state=state)
    queries = [QUERY, "seeking human resources", "registered nurse", "software engineer"]
    failures: list[str] = []
    results: dict[tuple, list[str]] = {}
    lock = threading.Lock()
    with running_server(app) as url:
        parts = urlsplit(url)

        def client(n: int) -> None:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            try:
                stars: list[str] = []
                for i in range(25):
                    query = queries[(n + i) % len(queries)]
                    status, body = _post(conn, {"query": query, "stars": stars, "top_k": 10})
                    if status != 200:
                        failures.append(f"{status}: {body}")
                        continue
                    ids = _ids(body)
                    with lock:
                        results.setdefault((query, tuple(stars)), []).append(",".join(ids))
                    stars = [] if len(stars) >= 3 else [*stars, ids[-1]]
            except Exception as exc:  # noqa: BLE001 - every failure is reported below
                failures.append(repr(exc))
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert not failures, failures[:5]
    assert sum(len(v) for v in results.values()) == 100
    # The same request always gets the same ranking, whatever else runs at the time.
    assert all(len(set(v)) == 1 for v in results.values())


def test_real_server_refuses_a_chunked_oversized_body(state):
    app = create_app(state.settings, state=state)
    with running_server(app) as url:
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        chunks = iter([b'{"query": "'] + [b"z" * 4096] * 8 + [b'"}'])
        conn.request(
            "POST",
            "/rank",
            body=chunks,
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["error"] == "body_too_large"
        conn.close()


def test_pipeline_default_that_cannot_load_falls_back(small_pool_csv, tmp_path):
    params = {
        "embeddings": {"name": "sbert-tuned"},
        "methods": {"sbert-tuned": {"name": "sbert-tuned", "model": str(tmp_path / "none")}},
        "serve": {
            "methods": ["tfidf", "sbert-tuned"],
            "fit_methods": ["tfidf", "sbert-tuned"],
            "fallback_method": "tfidf",
            "candidates": str(small_pool_csv),
            "ltr_model_dir": "",
        },
        "paths": {"models": str(tmp_path / "models")},
    }
    state = build_state(ServeSettings.from_config(params))
    assert state.settings.method == "tfidf"
    assert "sbert-tuned" in state.unavailable and "sbert-tuned" not in state.methods
    client = TestClient(create_app(state.settings, state=state), base_url=LOCAL_URL)
    assert rank_ok(client, query=QUERY, top_k=3)["method"] == "tfidf"
    # A method the user chose still has to load.
    with pytest.raises(FileNotFoundError):
        build_state(ServeSettings.from_config(params, method="sbert-tuned"))
