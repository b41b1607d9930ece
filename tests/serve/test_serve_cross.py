"""Method cross-encoder in the service and the CLI: a tiny (2-step) cross-encoder re-ranks
tfidf's top N within the latency budget. The model is barely trained: these tests check
the plumbing (a permutation of the head, the budget, the fallback), not ranking quality."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from starlette.testclient import TestClient

from shortlister.cross.config import CrossConfig
from shortlister.cross.export import export_cross_onnx
from shortlister.cross.train import base_folder, train_cross_encoder
from shortlister.serve.app import create_app
from shortlister.serve.settings import ServeSettings
from shortlister.serve.state import build_state
from tests.serve.helpers import LOCAL_URL, rank_ok

QUERY = "engineer"
TOP_N = 8


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cross-serve")
    cfg = CrossConfig.from_config(
        {"train": {"max_length": 16, "batch_size": 4, "max_steps": 2, "checkpoint_dir": None}}
    )
    pairs = pd.DataFrame(
        {"sentence1": ["engineer"] * 8, "sentence2": ["Software Engineer", "Cook"] * 4,
         "label": [1.0, 0.0] * 4}
    )  # fmt: skip
    model_dir = root / "models" / "cross-encoder"
    train_cross_encoder(
        cfg.train, pairs, base_folder("all-MiniLM-L6-v2", root), model_dir, root / "s"
    )
    export_cross_onnx(model_dir, int8=True)
    serving = {"first_stage": "tfidf", "top_n": TOP_N, "weight": 0.5}
    (model_dir / "serving.json").write_text(json.dumps(serving))
    return root / "models"


def _settings(candidates, models_dir, **cross) -> ServeSettings:
    cfg = {"rerank": {"first_stage": "tfidf"}, "train": {"max_length": 16}, **cross}
    return ServeSettings(
        candidates=str(candidates),
        methods=["tfidf", "cross-encoder"],
        cross=cfg,
        paths={"models": str(models_dir)},
    )


def _client(settings) -> TestClient:
    return TestClient(create_app(settings, state=build_state(settings)), base_url=LOCAL_URL)


def test_cross_encoder_permutes_the_first_stages_head(small_pool_csv, models_dir) -> None:
    client = _client(_settings(small_pool_csv, models_dir))
    first = rank_ok(client, query=QUERY, method="tfidf", top_k=20)
    cross = rank_ok(client, query=QUERY, method="cross-encoder", top_k=20)
    ids_first = [i["id"] for i in first["items"]]
    ids_cross = [i["id"] for i in cross["items"]]
    assert cross["llm"]["status"] == "reranked" and cross["llm"]["depth"] == TOP_N
    assert cross["llm"]["first_stage"] == "tfidf"
    assert sorted(ids_cross[:TOP_N]) == sorted(ids_first[:TOP_N])  # the head, re-ordered
    assert ids_cross[TOP_N:] == ids_first[TOP_N:]  # the rest as the first stage left it
    again = rank_ok(client, query=QUERY, method="cross-encoder", top_k=20)
    assert again["llm"]["cached"] and [i["id"] for i in again["items"]] == ids_cross
    health = client.get("/health").json()
    assert "cross-encoder" in json.dumps(health)


def test_stars_stay_pinned_and_a_tiny_budget_cuts_the_depth(small_pool_csv, models_dir) -> None:
    client = _client(_settings(small_pool_csv, models_dir, serve_budget_ms=0.001))
    first = rank_ok(client, query=QUERY, method="tfidf", top_k=5)
    star = first["items"][3]["id"]
    out = rank_ok(client, query=QUERY, method="cross-encoder", stars=[star])
    assert out["items"][0]["id"] == star and out["items"][0]["starred"]
    # A budget too small to score anything: the minimum depth, and the first stage's order
    # when the answer does not come in time (never an error).
    assert out["llm"]["depth"] <= 10
    assert out["llm"]["status"] in ("reranked", "timeout")


def test_without_a_trained_model_the_method_is_listed_unavailable(small_pool_csv, tmp_path) -> None:
    state = build_state(_settings(small_pool_csv, tmp_path))
    assert "cross-encoder" in state.unavailable
    assert "dvc repro cross_encoder" in state.unavailable["cross-encoder"]
