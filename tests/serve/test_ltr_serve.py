"""The learned re-ranker as a served method: listed, ranked with stars, or unavailable."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

import shortlister.ranking.features as features_mod
import shortlister.ranking.ltr.io as ltr_io
import shortlister.ranking.ltr.pool as learned_mod
import shortlister.ranking.ltr.ranker as ltr_ranker
from shortlister.ranking.ltr.io import load_ltr_ranker
from shortlister.serve.app import create_app
from shortlister.serve.settings import ServeSettings
from shortlister.serve.state import build_state
from tests.ranking.test_ltr import HashEmbedder
from tests.ranking.tiny_ranker import train_tiny_ranker, write_pool
from tests.serve.helpers import LOCAL_URL

QUERY = "aspiring human resources"


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    """A tiny RankNet (hashed encoder, 3 epochs) and the CSV of the pool it was built on."""
    csv, data = write_pool(tmp_path_factory.mktemp("ltr_serve"))
    return train_tiny_ranker(csv.parent, data), csv


@pytest.fixture
def hashed_sbert(monkeypatch):
    """The saved ranker's Sentence-BERT is built as the hashed stand-in (no model load)."""
    monkeypatch.setattr(ltr_io, "build_embedder", lambda cfg: HashEmbedder())


@pytest.fixture
def served(trained_dir, hashed_sbert):
    model_dir, csv = trained_dir
    settings = ServeSettings(
        candidates=str(csv), methods=["tfidf"], ltr_model_dir=str(model_dir), max_top_k=1000
    )
    state = build_state(settings)
    return state, TestClient(create_app(settings, state=state), base_url=LOCAL_URL)


def test_methods_list_the_learned_ranker(served):
    _, client = served
    body = client.get("/methods").json()
    names = {m["name"]: m for m in body["methods"]}
    assert set(names) == {"tfidf", "ranknet"} and body["unavailable"] == {}
    assert names["ranknet"]["source"] == "trained"
    assert names["ranknet"]["dimension"] == HashEmbedder.dim
    assert "ranknet" in client.get("/health").json()["methods"]


def test_rank_returns_the_learned_ranking_of_the_whole_pool(served, trained_dir):
    state, client = served
    n = len(state.rows)
    body = client.post("/rank", json={"query": QUERY, "method": "ranknet", "top_k": n}).json()
    ids = [item["id"] for item in body["items"]]
    assert body["method"] == "ranknet" and len(ids) == n == len(set(ids))
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert not any(item["starred"] for item in body["items"])
    # The same ranking as the ranker's own search over the served pool.
    ltr = load_ltr_ranker(trained_dir[0], sbert=HashEmbedder())
    order, _ = ltr.search(QUERY, state.pool, k=20)
    assert ids[:20] == [state.rows[i]["id"] for i in order]
    again = client.post("/rank", json={"query": QUERY, "method": "ranknet", "top_k": 5}).json()
    assert again["timing"]["query_cached"] is True
    assert [x["id"] for x in again["items"]] == ids[:5]


def test_stars_are_pinned_flagged_and_steer_the_learned_ranking(served):
    state, client = served
    n = len(state.rows)
    plain = client.post("/rank", json={"query": QUERY, "method": "ranknet", "top_k": n}).json()
    stars = [plain["items"][-1]["id"], plain["items"][-2]["id"]]  # the learned ranker's last
    body = client.post(
        "/rank", json={"query": QUERY, "method": "ranknet", "stars": stars, "top_k": n}
    ).json()
    items = body["items"]
    assert [x["id"] for x in items[:2]] == stars and all(x["starred"] for x in items[:2])
    assert not any(x["starred"] for x in items[2:]) and len(items) == n
    rest = [x["score"] for x in items[2:]]
    assert rest == sorted(rest, reverse=True)
    # star_weight 0: the normalised learned score alone, so the learned order (its head:
    # float32 rounding may tie neighbours far down the tail).
    zero = client.post(
        "/rank",
        json={"query": QUERY, "method": "ranknet", "stars": stars, "star_weight": 0.0, "top_k": n},
    ).json()
    plain_rest = [x["id"] for x in plain["items"] if x["id"] not in stars]
    assert [x["id"] for x in zero["items"][2:32]] == plain_rest[:30]
    assert all(0.0 <= x["score"] <= 1.0 for x in zero["items"])
    # Stars alone rank by Sentence-BERT similarity to the starred mean.
    alone = client.post("/rank", json={"stars": stars, "method": "ranknet", "top_k": 10}).json()
    assert [x["id"] for x in alone["items"][:2]] == stars
    assert [x["id"] for x in alone["items"][2:]] != plain_rest[:8]


def test_the_pool_is_indexed_once_at_start_up(served, monkeypatch):
    state, client = served
    learned = state.methods["ranknet"].ranker
    assert learned.ltr.index(state.pool) is learned.index  # the ranker's kept index

    def forbidden(*args, **kwargs):
        raise AssertionError("the pool was indexed again during a request")

    for module in (features_mod, ltr_ranker, learned_mod):
        monkeypatch.setattr(module, "build_pool_index", forbidden)
    for query in (QUERY, "registered nurse"):
        assert client.post("/rank", json={"query": query, "method": "ranknet"}).status_code == 200


def test_a_missing_model_is_listed_as_unavailable(trained_dir, hashed_sbert, tmp_path):
    _, csv = trained_dir
    missing = tmp_path / "models" / "ranker" / "ranknet"
    settings = ServeSettings(candidates=str(csv), methods=["tfidf"], ltr_model_dir=str(missing))
    client = TestClient(create_app(settings), base_url=LOCAL_URL)
    body = client.get("/methods").json()
    assert [m["name"] for m in body["methods"]] == ["tfidf"]
    assert "no trained ranker" in body["unavailable"]["ranknet"]
    assert str(missing) in body["unavailable"]["ranknet"]
    response = client.post("/rank", json={"query": QUERY, "method": "ranknet"})
    assert response.status_code == 422 and response.json()["error"] == "unknown_method"
    # An existing folder without a trained model: unavailable too, never an error.
    missing.mkdir(parents=True)
    body = TestClient(create_app(settings), base_url=LOCAL_URL).get("/methods").json()
    assert "missing" in body["unavailable"]["ranknet"]


def test_the_model_folder_defaults_from_config():
    params = {"ranker": {"name": "lambdarank"}, "paths": {"models": "m"}}
    assert ServeSettings.from_config(params).ltr_model_dir == "m/ranker/lambdarank"
    assert (
        ServeSettings.from_config({**params, "serve": {"ltr_model_dir": ""}}).ltr_model_dir is None
    )
    assert ServeSettings.from_config({}).ltr_model_dir is None
    assert ServeSettings(ltr_model_dir="x/ranknet").ltr_name == "ranknet"


def test_learned_scores_are_min_max_normalised_per_request():
    assert learned_mod.minmax(np.array([2.0, -2.0, 0.0])).tolist() == [1.0, 0.0, 0.5]
    assert learned_mod.minmax(np.array([3.0, 3.0])).tolist() == [1.0, 1.0]


def test_the_served_sbert_method_is_shared_with_the_learned_ranker(trained_dir, hashed_sbert):
    from shortlister.embeddings.sbert import SbertConfig
    from shortlister.ranking.pool import CandidatePool
    from shortlister.serve.state import MethodState, load_learned, load_pool

    class FakeSbert(HashEmbedder):
        config = SbertConfig(cache_dir=None)  # the ranker's model (features: {name: sbert})

    model_dir, csv = trained_dir
    settings = ServeSettings(candidates=str(csv), methods=["tfidf"], ltr_model_dir=str(model_dir))
    pool, _ = load_pool(settings)
    embedder = FakeSbert()
    matrix = embedder.encode(pool["title"].tolist())
    sbert = MethodState("sbert", CandidatePool(pool, embedder, matrix), "fitted", 0.0)
    learned = load_learned(settings, pool, {"sbert": sbert}).ranker
    assert learned.embedder is embedder
    assert np.array_equal(learned.index.sbert, matrix)
    assert learned.ltr.index(pool) is learned.index
