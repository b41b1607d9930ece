"""Method llm in the service: a tiny random model re-ranks tfidf's top under a time limit.

The tiny model's order is random: these tests check the plumbing (permutations, fallback,
flags), never the quality of a ranking.
"""

from __future__ import annotations

import json
import logging
import socket

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

import shortlister.serve.app as serve_app
from shortlister.cli import main
from shortlister.core.errors import ConfigError
from shortlister.serve.app import create_app
from shortlister.serve.settings import ServeSettings
from shortlister.serve.state import build_state
from tests.serve.helpers import LOCAL_URL, rank_ok

QUERY = "engineer"  # many matches in the small generated pool
DEPTH = 6


def llm_settings(candidates, model, **llm) -> ServeSettings:
    cfg = {
        "model": str(model),
        "adapter": None,
        "device": "cpu",
        "first_stage": "tfidf",
        "first_stage_fallback": None,
        "depth": DEPTH,
        "window": 3,
        "step": 2,
        "max_new_tokens": 12,
        **llm,
    }
    return ServeSettings(candidates=str(candidates), methods=["tfidf", "llm"], llm=cfg)


def _client(settings) -> TestClient:
    return TestClient(create_app(settings, state=build_state(settings)), base_url=LOCAL_URL)


@pytest.fixture(scope="module")
def client(small_pool_csv, tiny_llm):
    return _client(llm_settings(small_pool_csv, tiny_llm))


def _ids(result):
    return [item["id"] for item in result["items"]]


def _assert_permuted_head(llm, first, n_starred=0):
    """llm's list is first's with the DEPTH candidates after the stars permuted."""
    head = slice(n_starred, n_starred + DEPTH)
    assert _ids(llm)[:n_starred] == _ids(first)[:n_starred]
    assert sorted(_ids(llm)[head]) == sorted(_ids(first)[head])
    assert _ids(llm)[head.stop :] == _ids(first)[head.stop :]
    scores = {i["id"]: i["score"] for i in first["items"]}
    assert all(i["score"] == scores[i["id"]] for i in llm["items"])  # the first stage's


def test_reranks_a_permutation_of_the_first_stage(client):
    first = rank_ok(client, query=QUERY, method="tfidf", top_k=10)
    llm = rank_ok(client, query=QUERY, method="llm", top_k=10)
    assert first["llm"] is None
    info = llm["llm"]
    assert info["status"] == "reranked" and info["first_stage"] == "tfidf"
    assert info["model"] == "gemma3" and info["depth"] == DEPTH and info["detail"] is None
    assert not info["cached"] and info["seconds"] > 0
    assert llm["method"] == "llm" and len(llm["items"]) == 10
    _assert_permuted_head(llm, first)
    again = rank_ok(client, query=QUERY, method="llm", top_k=8)
    assert again["llm"]["cached"] and _ids(again) == _ids(llm)[:8]


def test_stars_stay_pinned_and_the_llm_orders_the_rest(client):
    pool = _ids(rank_ok(client, query=QUERY, method="tfidf", top_k=20))
    stars = [pool[12], pool[3]]
    first = rank_ok(client, query=QUERY, method="tfidf", stars=stars, top_k=10)
    llm = rank_ok(client, query=QUERY, method="llm", stars=stars, top_k=10)
    assert llm["llm"]["status"] == "reranked"
    assert _ids(llm)[:2] == stars and [i["starred"] for i in llm["items"][:3]] == [1, 1, 0]
    _assert_permuted_head(llm, first, n_starred=2)
    alone = rank_ok(client, method="llm", stars=stars)
    assert alone["llm"]["status"] == "skipped" and "no query" in alone["llm"]["detail"]
    assert _ids(alone) == _ids(rank_ok(client, method="tfidf", stars=stars))


def test_methods_describe_llm(client):
    info = client.get("/methods").json()
    llm = next(m for m in info["methods"] if m["name"] == "llm")
    assert llm["source"] == "llm"
    assert llm["llm"] == {
        "first_stage": "tfidf",
        "model": "gemma3",
        "backend": "transformers",
        "scorer": "pointwise",
        "depth": DEPTH,
        "timeout_s": 20.0,
        "load_seconds": llm["llm"]["load_seconds"],
    }
    assert client.get("/health").json()["methods"] == ["tfidf", "llm"]


def test_timeout_answers_with_the_first_stage(small_pool_csv, tiny_llm):
    client = _client(llm_settings(small_pool_csv, tiny_llm, serve_timeout_s=1e-4))
    first = rank_ok(client, query=QUERY, method="tfidf")
    late = rank_ok(client, query=QUERY, method="llm")
    assert late["llm"]["status"] == "timeout" and late["llm"]["timeout_s"] == 1e-4
    assert _ids(late) == _ids(first)
    # Later requests are answered from their own inputs: the late result changes nothing.
    stage = client.app.state.service.methods["llm"].llm
    stage._executor.submit(lambda: None).result(timeout=30)  # the late call has finished
    other = rank_ok(client, query="nurse", method="tfidf")
    assert _ids(rank_ok(client, query="nurse", method="llm"))[DEPTH:] == _ids(other)[DEPTH:]
    again = rank_ok(client, query=QUERY, method="llm")  # the late answer, for its own query
    assert again["llm"]["status"] == "reranked" and again["llm"]["cached"]
    _assert_permuted_head(again, first)


def test_model_failure_answers_with_the_first_stage(small_pool_csv, tiny_llm, monkeypatch, caplog):
    # A real failure: an OpenAI-compatible server that is not there (connection refused).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("SHORTLISTER_TEST_KEY", "not-a-key")
    api = {"base_url": f"http://127.0.0.1:{port}/v1", "api_key_env": "SHORTLISTER_TEST_KEY",
           "model": "absent", "max_retries": 0, "timeout_s": 5}  # fmt: skip
    settings = llm_settings(small_pool_csv, tiny_llm, backend="openai", scorer="listwise",
                            openai=api)  # fmt: skip
    client = _client(settings)
    first = rank_ok(client, query=QUERY, method="tfidf")
    with caplog.at_level(logging.WARNING, logger="shortlister.serve.llm_rerank"):
        failed = rank_ok(client, query=QUERY, method="llm")
    assert failed["llm"]["status"] == "error" and failed["llm"]["model"] == "absent"
    assert failed["llm"]["detail"] and _ids(failed) == _ids(first)
    assert "llm re-ranking failed" in caplog.text


def test_unavailable_model_is_listed_with_its_reason(small_pool_csv, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    client = _client(llm_settings(small_pool_csv, tmp_path / "no-such-model"))
    info = client.get("/methods").json()
    assert [m["name"] for m in info["methods"]] == ["tfidf"]
    assert "model not available" in info["unavailable"]["llm"]
    response = client.post("/rank", json={"query": QUERY, "method": "llm"})
    assert response.status_code == 422 and response.json()["error"] == "unknown_method"


def test_broken_adapter_is_unavailable(small_pool_csv, tiny_llm, tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{not json")
    client = _client(llm_settings(small_pool_csv, tiny_llm, adapter=str(adapter)))
    assert "llm" in client.get("/methods").json()["unavailable"]


def test_llm_as_the_only_method_must_load(small_pool_csv, tmp_path):
    settings = llm_settings(small_pool_csv, tmp_path / "no-such-model")
    settings.methods, settings.method = ["llm"], "llm"
    with pytest.raises(ConfigError, match="method llm cannot be served: model not available"):
        build_state(settings)


def test_serve_command_accepts_method_llm(small_pool_csv, tiny_llm, tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(serve_app, "serve", lambda settings: seen.setdefault("s", settings))
    llm = llm_settings(small_pool_csv, tiny_llm).llm
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps({"llm": llm}))  # JSON is YAML
    result = CliRunner().invoke(main, ["serve", "--params", str(params), "--method", "llm",
                                       "--candidates", str(small_pool_csv)])  # fmt: skip
    assert result.exit_code == 0, result.output
    settings = seen["s"]
    assert settings.method == "llm" and settings.llm["model"] == str(tiny_llm)
    state = build_state(settings)  # the first stage joins the served methods
    assert list(state.methods) == ["tfidf", "llm"] and state.settings.method == "llm"
    assert state.methods["llm"].llm.first_stage == "tfidf"
