"""The cross-encoder as a learned ranker's feature, and rankers trained on unseen queries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shortlister.core.errors import ConfigError, DataError
from shortlister.cross.rerank import read_heads, write_heads
from shortlister.data.datasets import ranker_holdout
from shortlister.encoder.titles import PairSources
from shortlister.ranking.features import (
    FeatureConfig,
    add_cross_scores,
    build_pool_index,
    pair_features,
    score_queries,
)
from shortlister.ranking.ltr.config import LtrConfig
from shortlister.ranking.ltr.io import load_ltr_ranker, save_ranker
from shortlister.ranking.ltr.lists import build_lists
from shortlister.ranking.ltr.train import train_ranker
from shortlister.stages.ranker import add_heads, training_queries
from tests.ranking.test_ltr import HashEmbedder

POOL = pd.DataFrame(
    {
        "id": [f"c{i}" for i in range(6)],
        "title": [
            "Registered Nurse",
            "ER Nurse | caring",
            "Welder",
            "Head Cook at Bluepeak",
            "Nurse Practitioner",
            "Line Cook",
        ],
    }
)
CROSS = {"model_dir": "cross-encoder", "depth": 3}
SCALARS = ["sbert_cos", "cross", "cross_missing"]


def overlap(query: str, texts: list[str]) -> np.ndarray:
    """A stand-in scorer: the share of the role's words in the headline."""
    words = set(query.lower().split())
    return np.array([len(words & set(t.lower().split())) / len(words) for t in texts], np.float32)


def test_cross_features_score_the_top_depth_and_flag_the_rest() -> None:
    cfg = FeatureConfig(scalars=SCALARS, vectors=[], cross=CROSS)
    index = build_pool_index(POOL, cfg, sbert=HashEmbedder())
    qs = score_queries(index, ["registered nurse"], HashEmbedder())
    add_cross_scores(index, qs, ["registered nurse"], overlap, depth=3)
    scored = np.flatnonzero(~np.isnan(qs.scores["cross"][0]))
    top3 = np.argsort(-qs.scores["sbert_cos"][0], kind="stable")[:3]
    assert sorted(scored) == sorted(top3)
    x = pair_features(index, qs, 0, np.arange(len(POOL)), cfg)
    cross, missing = x[:, 1], x[:, 2]
    assert missing.tolist() == [0.0 if i in scored else 1.0 for i in range(len(POOL))]
    expected = overlap("registered nurse", POOL["title"].iloc[scored].tolist())
    np.testing.assert_allclose(cross[scored], expected)
    # The rest of the list sits at the query's lowest scored value, never above it.
    assert np.all(cross[missing == 1] == expected.min())


def test_cross_scalars_need_a_model_and_the_scores() -> None:
    with pytest.raises(ConfigError, match="names no model_dir"):
        FeatureConfig(scalars=SCALARS, vectors=[])
    cfg = FeatureConfig(scalars=SCALARS, vectors=[], cross=CROSS)
    index = build_pool_index(POOL, cfg, sbert=HashEmbedder())
    qs = score_queries(index, ["welder"], HashEmbedder())
    with pytest.raises(ValueError, match="needs cross-encoder scores"):
        pair_features(index, qs, 0, np.arange(3), cfg)


def test_a_saved_ranker_scores_its_cross_feature_with_the_loaded_model(tmp_path) -> None:
    """The pipeline's stored scores and the service's live ones give the same features."""
    cfg = FeatureConfig(scalars=SCALARS, vectors=[], candidates_per_query=6, cross=CROSS)
    index = build_pool_index(POOL, cfg, sbert=HashEmbedder())
    queries = ["registered nurse", "cook"]
    qs = add_cross_scores(index, score_queries(index, queries, HashEmbedder()), queries, overlap, 3)
    qrels = {"q0": {"c0": 3, "c1": 2, "c4": 1}, "q1": {"c3": 3, "c5": 3}}
    lists = build_lists(index, qs, ["q0", "q1"], qrels, cfg)
    ltr = LtrConfig(name="ranknet", hidden_sizes=[4], epochs=2, patience=2, seed=3)
    result = train_ranker(lists, [], ltr, cfg.names(HashEmbedder.dim))
    folder = save_ranker(tmp_path / "models" / "ranker" / "ranknet", result, ltr, cfg)
    # No model at models/cross-encoder: the load names what to run.
    with pytest.raises(FileNotFoundError, match="dvc repro cross_encoder"):
        load_ltr_ranker(folder, sbert=HashEmbedder())
    ranker = load_ltr_ranker(folder, sbert=HashEmbedder(), cross=overlap)
    live = ranker.query_scores(index, queries)
    np.testing.assert_array_equal(live.scores["cross"], qs.scores["cross"])
    np.testing.assert_array_equal(ranker.rerank(index, live, 0), ranker.rerank(index, qs, 0))


def test_stored_heads_round_trip_into_the_feature_matrix(tmp_path) -> None:
    cfg = FeatureConfig(scalars=SCALARS, vectors=[], cross=CROSS)
    index = build_pool_index(POOL, cfg, sbert=HashEmbedder())
    queries = pd.DataFrame({"query_id": ["q0", "q1"], "query": ["nurse", "cook"]})
    run = {"q0": [("c4", 0.9), ("c1", 0.8), ("c0", 0.7)], "q1": [("c5", 0.9), ("nope", 0.1)]}
    heads = {"q0": np.array([0.5, 0.25, 0.125]), "q1": np.array([0.75, 0.1])}
    runs = tmp_path / "runs"
    write_heads(runs / "cross-encoder" / "heads" / "default.tsv", run, heads)
    assert len(read_heads(runs / "cross-encoder" / "heads" / "default.tsv")) == 5
    qs = score_queries(index, queries["query"].tolist(), HashEmbedder())
    dataset = type("Dataset", (), {"name": "default", "queries": queries})()
    add_heads({"paths": {"runs": str(runs)}}, dataset, index, qs)
    cross = qs.scores["cross"]
    assert cross[0, 4] == 0.5 and cross[0, 0] == 0.125 and cross[1, 5] == 0.75
    # An id the pool does not hold ("nope") is dropped; the rest stay unscored.
    assert np.isnan(cross).sum() == cross.size - 4
    with pytest.raises(FileNotFoundError, match="dvc repro cross_encoder"):
        read_heads(tmp_path / "missing.tsv")


def test_ranker_holdout_is_stable_and_takes_its_share() -> None:
    ids = [f"default-q{i:03d}" for i in range(400)]
    held = ranker_holdout(ids, 0.5)
    assert held == ranker_holdout(reversed(ids), 0.5)  # by id, not by position
    assert held == ranker_holdout(ids[:200], 0.5) | ranker_holdout(ids[200:], 0.5)
    assert 160 < len(held) < 240
    assert ranker_holdout(ids, 0.0) == set() and ranker_holdout(ids, 1.0) == set(ids)
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        ranker_holdout(ids, 1.5)
    with pytest.raises(ConfigError, match="ranker_holdout"):
        PairSources(ranker_holdout=-0.1)


def test_unseen_training_queries_are_those_the_encoders_left_out() -> None:
    queries = pd.DataFrame(
        {"query_id": [f"q{i}" for i in range(40)], "split": ["train"] * 30 + ["test"] * 10}
    )
    dataset = type("Dataset", (), {"queries": queries})()

    def params(choice, share):
        rankers = {"ranknet": {"train_queries": choice}}
        return {"rankers": rankers, "encoder": {"sources": {"ranker_holdout": share}}}

    assert training_queries(params("all", 0.5), "ranknet", dataset) is None
    unseen = training_queries(params("unseen", 0.5), "ranknet", dataset)
    assert unseen == ranker_holdout(queries["query_id"][:30], 0.5) and unseen
    with pytest.raises(ValueError, match="keeps no training query"):
        training_queries(params("unseen", 0.0), "ranknet", dataset)
    with pytest.raises(ValueError, match="'all' or 'unseen'"):
        training_queries(params("some", 0.5), "ranknet", dataset)
