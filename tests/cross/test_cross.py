"""The cross-encoder: graded pairs without evaluation titles, a real tiny training run,
ONNX export that scores as torch does, and the re-ranking and selection arithmetic."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from shortlister.core.errors import ConfigError
from shortlister.cross.config import CrossConfig
from shortlister.cross.export import export_cross_onnx
from shortlister.cross.pairs import build_cross_pairs, mined_pairs
from shortlister.cross.rerank import blend, choose, rerank_list
from shortlister.cross.scorer import CrossScorer
from shortlister.cross.train import base_folder, train_cross_encoder
from shortlister.encoder.exclusions import evaluation_exclusions
from shortlister.encoder.titles import title_key
from shortlister.evaluation.metrics import MetricConfig
from tests.stages.test_train_encoder import _write_layout


def hashed_encoder(texts: list[str]) -> np.ndarray:
    """Deterministic unit vectors from word hashes: titles sharing words are close."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().split():
            out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> dict:
    params = _write_layout(tmp_path_factory.mktemp("cross"))
    params["cross"] = {
        "mining": {"anchors": 200, "top_k": 5, "per_anchor": 2, "default_top_k": 3},
        "train": {"max_length": 16, "batch_size": 8, "max_steps": 2, "checkpoint_dir": None},
    }
    return params


def test_pairs_are_graded_and_leave_out_every_evaluation_title(layout: dict) -> None:
    cfg = CrossConfig.from_config(layout["cross"])
    exclusions = evaluation_exclusions(layout)
    pairs = build_cross_pairs(cfg, layout, exclusions, hashed_encoder)
    frame = pairs.pairs
    assert set(frame["kind"]) == {"taxonomy", "mined", "judged"}
    assert frame["label"].between(0.0, 1.0).all()
    keys = set(frame["sentence1"].map(title_key)) | set(frame["sentence2"].map(title_key))
    assert not keys & exclusions.titles  # "personnel recruiter" (a test query), "ccu nurse"
    # Graded, not binary: same-occupation, group-level and unrelated targets all occur.
    assert {1.0, 0.0} <= set(frame["label"].round(2)) and frame["label"].between(0.05, 0.95).any()
    judged = frame[frame["kind"] == "judged"]
    assert set(judged["sentence1"]) == {"registered nurse"}  # the training query only
    assert pairs.counts["total"] == len(frame)


def test_mined_pairs_take_the_label_of_their_relation() -> None:
    table = pd.DataFrame(
        {
            "title": ["Staff Nurse", "Nurse Staff Lead", "Nurse Welder", "Welder", "Lead Welder"],
            "occupation": ["nurse", "nurse", "welder", "welder", "welder"],
            "groups": [("29-114",), ("29-114",), ("51-412",), ("51-412",), ("51-412",)],
        }
    )
    table["key"] = table["title"].map(title_key)
    cfg = CrossConfig.from_config({"mining": {"top_k": 4, "per_anchor": 4}})
    mined = mined_pairs(
        table, hashed_encoder(table["title"].tolist()), set(), cfg, 5, np.random.default_rng(0)
    )
    occ = dict(zip(table["title"], table["occupation"], strict=True))
    for a, b, label in mined.itertuples(index=False):
        assert label == (1.0 if occ[a] == occ[b] else 0.0)
    assert len(mined) == 5 * 4


def test_blend_and_rerank_keep_the_tail_below_the_block() -> None:
    ranked = [("a", 0.9), ("b", 0.8), ("c", 0.7), ("d", 0.1)]
    cross = np.array([0.1, 0.2, 0.9])
    assert [c for c, _ in rerank_list(ranked, cross, 3, 0.0)] == ["a", "b", "c", "d"]
    out = rerank_list(ranked, cross, 3, 1.0)
    assert [c for c, _ in out] == ["c", "b", "a", "d"]
    scores = [s for _, s in out]
    assert scores == sorted(scores, reverse=True) and scores[2] > scores[3]
    np.testing.assert_allclose(blend(np.array([1.0, 2, 3]), np.array([3.0, 2, 1]), 0.5), 0.0)


def test_choose_picks_the_grid_point_that_wins_on_the_selection_queries() -> None:
    runs = {"q1": [("a", 0.9), ("b", 0.8), ("c", 0.7)]}
    cross = {"q1": np.array([0.0, 0.1, 0.9])}  # the cross-encoder puts the relevant c first
    qrels = {"q1": {"c": 3}}
    metric_cfg = MetricConfig.from_config(
        {"ndcg_k": 10, "precision_k": 5, "recall_k": 100, "min_grade": 2, "gain": "linear"}
    )
    choice = choose(runs, cross, qrels, ["q1"], [2, 3], [0.0, 1.0], metric_cfg)
    assert (choice.top_n, choice.weight, choice.value) == (3, 1.0, 1.0)
    assert len(choice.grid) == 4


def test_config_refuses_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ConfigError, match="cross.train: unknown keys"):
        CrossConfig.from_config({"train": {"epochz": 1}})
    with pytest.raises(ConfigError, match="cross.rerank.backend"):
        CrossConfig.from_config({"rerank": {"backend": "gpu"}})
    with pytest.raises(ConfigError, match="cross.scores"):
        CrossConfig.from_config({"scores": {"same": 1.0}})


def test_a_tiny_real_training_run_exports_onnx_that_scores_like_torch(layout, tmp_path) -> None:
    cfg = CrossConfig.from_config(layout["cross"])
    pairs = pd.DataFrame(
        {
            "sentence1": ["registered nurse"] * 8 + ["welder"] * 8,
            "sentence2": ["CCU Nurse", "Welder", "ER RN", "Cook"] * 4,
            "label": [1.0, 0.0, 1.0, 0.0] * 2 + [0.0, 1.0, 0.0, 0.0] * 2,
        }
    )
    model_dir = tmp_path / "cross-encoder"
    report = train_cross_encoder(
        cfg.train, pairs, base_folder("all-MiniLM-L6-v2", tmp_path), model_dir, tmp_path / "s"
    )
    assert report["steps"] == 2 and report["n_pairs"] == 16
    paths = export_cross_onnx(model_dir, int8=True)
    texts = ["Aspiring Registered Nurse | caring", "Welder", "Head Cook at Bluepeak"]
    torch_scores = CrossScorer(model_dir, "torch", 16).score("registered nurse", texts)
    onnx_scores = CrossScorer(model_dir, "onnx", 16).score("registered nurse", texts)
    int8_scores = CrossScorer(model_dir, "onnx-int8", 16).score("registered nurse", texts)
    assert ((torch_scores > 0) & (torch_scores < 1)).all()
    np.testing.assert_allclose(onnx_scores, torch_scores, atol=1e-4)
    np.testing.assert_allclose(int8_scores, torch_scores, atol=0.05)
    # The order of the result is the order of the texts, whatever the batching.
    permuted = CrossScorer(model_dir, "onnx", 16, batch_size=1).score(
        "registered nurse", texts[::-1]
    )
    np.testing.assert_allclose(permuted, onnx_scores[::-1], atol=1e-5)
    assert set(paths) == {"onnx", "onnx_int8"}


def test_scorer_without_a_model_says_what_to_run(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="dvc repro cross_encoder"):
        CrossScorer(tmp_path / "missing")
