"""Hostile requests against the HTTP API: each gets a 4xx naming the field, never a 5xx.

Every case asserts the status, a detail naming what was wrong, the security headers,
that the served candidate file is unchanged (sha256) and that no traceback leaks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from starlette.testclient import TestClient

from shortlister.serve.app import create_app
from shortlister.serve.settings import ServeSettings
from shortlister.serve.state import build_state
from tests.hostile.conftest import ROWS, fingerprints, write_candidates
from tests.serve.helpers import LOCAL_URL

TOKEN = "hostile-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"Content-Type": "application/json"}


@dataclass
class Req:
    kind: str
    name: str
    method: str
    path: str
    status: int
    expect: list[str] = field(default_factory=list)  # substrings of the body
    body: str | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    auth: bool = True

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.name}"


def rank_body(**fields) -> str:
    return json.dumps(fields)  # ensure_ascii: lone surrogates travel as \ud800 escapes


XSS = "<script>alert(1)</script> Recruiter"

REQUESTS = [
    Req("text", "lone-surrogate-tfidf", "POST", "/rank", 422, ["invalid_query", "field 'query'",
        "lone surrogate"], rank_body(query="\ud800 data", method="tfidf")),
    Req("text", "lone-surrogate-sbert", "POST", "/rank", 422, ["invalid_query", "U+D800"],
        rank_body(query="\ud800 data", method="sbert")),
    Req("text", "lone-surrogate-key", "POST", "/rank", 422, ["invalid_request"],
        '{"query": "hr", "\\ud800": 1}'),
    Req("text", "surrogate-star", "POST", "/rank", 422, ["invalid_stars"],
        rank_body(query="hr", stars=["\udcff"])),
    Req("text", "only-control-characters", "POST", "/rank", 422, ["empty_request"],
        rank_body(query="\u0000\u001b")),
    Req("request", "malformed-json", "POST", "/rank", 400, ["malformed_json"], '{"query": '),
    Req("request", "wrong-type", "POST", "/rank", 422, ["top_k"],
        rank_body(query="hr", top_k="10")),
    Req("request", "unknown-field", "POST", "/rank", 422, ["qeury"], rank_body(qeury="hr")),
    Req("request", "top-k-too-large", "POST", "/rank", 422, ["top_k_too_large"],
        rank_body(query="hr", top_k=10_000)),
    Req("request", "query-too-long", "POST", "/rank", 422, ["query_too_long"],
        rank_body(query="x" * 5000)),
    Req("request", "body-too-large", "POST", "/rank", 413, ["body_too_large"],
        rank_body(query="x" * 40_000)),
    Req("request", "unknown-method", "POST", "/rank", 422, ["unknown_method", "'bm99'"],
        rank_body(query="hr", method="bm99")),
    Req("request", "unknown-star", "POST", "/rank", 422, ["invalid_stars", "404"],
        rank_body(query="hr", stars=["404"])),
    Req("request", "too-many-stars", "POST", "/rank", 422, ["invalid_stars"],
        rank_body(stars=[str(i) for i in range(1, 7)])),
    Req("request", "empty-request", "POST", "/rank", 422, ["empty_request"], rank_body()),
    Req("request", "star-weight-out-of-range", "POST", "/rank", 422, ["star_weight"],
        rank_body(query="hr", star_weight=2.0)),
    Req("request", "unknown-candidate", "GET", "/candidates/..%2F..%2Fetc%2Fpasswd", 404,
        ["not_found"]),
    Req("request", "path-traversal-static", "GET", "/static/../../../../etc/passwd", 404,
        ["not_found"]),
    Req("request", "method-not-allowed", "DELETE", "/rank", 405, ["method_not_allowed"]),
    Req("service", "foreign-host", "GET", "/methods", 400, ["invalid_host", "evil.example"],
        headers={"Host": "evil.example"}),
    Req("service", "foreign-host-with-port", "POST", "/rank", 400, ["invalid_host"],
        rank_body(query="hr"), headers={"Host": "evil.example:8000"}),
    Req("service", "no-token", "POST", "/rank", 401, ["unauthorized"], rank_body(query="hr"),
        auth=False),
    Req("service", "wrong-token", "GET", "/methods", 401, ["unauthorized"],
        headers={"Authorization": "Bearer wrong"}, auth=False),
    Req("service", "token-wrong-scheme", "GET", "/methods", 401, ["unauthorized"],
        headers={"Authorization": f"Basic {TOKEN}"}, auth=False),
    Req("service", "bad-content-length", "POST", "/rank", 400, ["bad_content_length"],
        rank_body(query="hr"), headers={"Content-Length": "ten"}),
]  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    write_candidates(folder / "c.csv", [*ROWS, ("7", XSS, "<img src=x onerror=alert(1)>", "")])
    before = fingerprints(folder)
    settings = ServeSettings(candidates=str(folder / "c.csv"), methods=["tfidf", "sbert"])
    mp = pytest.MonkeyPatch()
    mp.setenv(settings.token_env, TOKEN)
    app = create_app(settings, state=build_state(settings))
    mp.undo()
    client = TestClient(app, base_url=LOCAL_URL, raise_server_exceptions=False)
    yield client, folder, before
    client.close()


def _check_headers(response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert "referrer-policy" in response.headers


@pytest.mark.parametrize("req", REQUESTS, ids=[r.id for r in REQUESTS])
def test_hostile_request(req: Req, served) -> None:
    client, folder, before = served
    headers = {**JSON, **(AUTH if req.auth else {}), **req.headers}
    response = client.request(req.method, req.path, content=req.body, headers=headers)
    assert response.status_code == req.status, response.text
    assert response.status_code < 500
    body = response.json()
    assert set(body) >= {"error", "detail"}
    for part in req.expect:
        assert part in response.text, f"{part!r} not in {response.text!r}"
    assert "Traceback" not in response.text
    _check_headers(response)
    assert fingerprints(folder) == before


def test_the_battery_is_large_enough() -> None:
    assert len(REQUESTS) >= 20
    assert {r.kind for r in REQUESTS} == {"text", "request", "service"}


def test_markup_in_titles_comes_back_as_json_text(served) -> None:
    client, folder, before = served
    response = client.post("/rank", json={"query": "recruiter", "method": "tfidf"}, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["items"][0]["title"] == XSS
    _check_headers(response)
    assert fingerprints(folder) == before


@pytest.mark.parametrize("method", ["tfidf", "sbert"])
def test_no_match_is_said_in_the_response(served, method: str) -> None:
    client, _, _ = served
    body = client.post("/rank", json={"query": "zzqxj", "method": method}, headers=AUTH).json()
    assert body["match"]["matched"] is False
    assert body["match"]["best_score"] <= body["match"]["floor"]
    assert "no candidate matches 'zzqxj'" in body["match"]["notice"]
    real = client.post("/rank", json={"query": "registered nurse", "method": method}, headers=AUTH)
    assert real.json()["match"] == {**real.json()["match"], "matched": True, "notice": None}


@pytest.mark.parametrize("method", ["tfidf", "sbert"])
def test_hr_is_ranked_as_human_resources(served, method: str) -> None:
    client, _, _ = served

    def ranked(query: str) -> list[tuple[str, float]]:
        body = client.post("/rank", json={"query": query, "method": method}, headers=AUTH).json()
        return [(i["id"], round(i["score"], 6)) for i in body["items"]]

    assert ranked("hr") == ranked("human resources")
    assert ranked("hr")[0][0] in {"1", "2", "6"}  # an HR headline, not a 0.0 tie


@pytest.mark.parametrize("path", ["/", "/health"])
def test_head_works_where_get_does(served, path: str) -> None:
    client, _, _ = served
    response = client.head(path)
    assert response.status_code == 200 and response.content == b""
    _check_headers(response)
