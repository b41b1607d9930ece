from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

from shortlister.core.errors import ConfigError
from shortlister.evaluation.metrics import (
    MetricConfig,
    average_precision,
    dcg_at_k,
    evaluate_run,
    metric_names,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
)

LOG2_3 = math.log2(3)  # 1.5849625...

# relevant at min_grade=2: a, c, d, x (4 in all); x is never retrieved below
GRADED = {"a": 3, "b": 1, "c": 2, "d": 2, "x": 2, "e": 0}
RANKED = ["a", "b", "c", "z", "d"]  # z is unjudged -> non-relevant


def test_dcg_wikipedia_example() -> None:
    # 3/1 + 2/log2(3) + 3/2 + 0/log2(5) + 1/log2(6) + 2/log2(7)
    # = 3 + 1.26186 + 1.5 + 0 + 0.38685 + 0.71241 = 6.86112
    assert dcg_at_k([3, 2, 3, 0, 1, 2], k=6) == pytest.approx(6.86112, abs=1e-5)
    # only the first two count: 3 + 2/log2(3)
    assert dcg_at_k([3, 2, 3, 0, 1, 2], k=2) == pytest.approx(3 + 2 / LOG2_3)
    # k past the end of the list just uses every gain
    assert dcg_at_k([1.0], k=5) == 1.0


def test_ndcg_linear_hand_computed() -> None:
    judgments = {"a": 3, "b": 0, "c": 2, "e": 1}  # e is judged but never retrieved
    ranked = ["b", "a", "d", "c"]
    # DCG@3 gains [0, 3, 0] -> 3/log2(3) = 1.89279
    # IDCG@3 from all judged grades [3, 2, 1] -> 3 + 2/log2(3) + 1/2 = 4.76186
    expected = (3 / LOG2_3) / (3 + 2 / LOG2_3 + 0.5)
    assert expected == pytest.approx(0.397490, abs=1e-6)
    assert ndcg_at_k(ranked, judgments, k=3) == pytest.approx(expected)


def test_ndcg_exponential_gain_hand_computed() -> None:
    judgments = {"a": 3, "b": 0, "c": 2, "e": 1}
    ranked = ["b", "a", "d", "c"]
    # gains 2**g - 1: a -> 7, c -> 3, e -> 1
    # DCG@3 [0, 7, 0] -> 7/log2(3) = 4.41651; 4.41651 / 9.39279 = 0.470202
    # IDCG@3 [7, 3, 1] -> 7 + 3/log2(3) + 1/2 = 9.39279
    expected = (7 / LOG2_3) / (7 + 3 / LOG2_3 + 0.5)
    assert expected == pytest.approx(0.470202, abs=1e-6)
    assert ndcg_at_k(ranked, judgments, k=3, gain="exponential") == pytest.approx(expected)


def test_ndcg_is_zero_without_positive_grades() -> None:
    assert ndcg_at_k(["a", "b"], {"a": 0, "b": 0}, k=10) == 0.0
    assert ndcg_at_k(["a", "b"], {}, k=10) == 0.0


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("k", [1, 3, 5, 12, 50])
def test_ndcg_matches_sklearn(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    n_items = 12
    y_true = rng.integers(0, 4, size=n_items)
    y_true[rng.integers(n_items)] = 3  # at least one relevant item
    y_score = rng.random(n_items)  # continuous -> tie-free
    ids = [f"c{i}" for i in range(n_items)]
    ranked = [ids[i] for i in np.argsort(-y_score)]
    judgments = dict(zip(ids, y_true.tolist(), strict=True))

    expected = ndcg_score(y_true[None, :], y_score[None, :], k=k)

    assert ndcg_at_k(ranked, judgments, k=k) == pytest.approx(expected)


def test_average_precision_hand_computed() -> None:
    # relevant hits at ranks 1 (a), 3 (c), 5 (d): precisions 1/1, 2/3, 3/5
    # denominator is every relevant judged candidate (a, c, d, x) = 4
    expected = (1 + 2 / 3 + 3 / 5) / 4
    assert expected == pytest.approx(0.566667, abs=1e-6)
    assert average_precision(RANKED, GRADED) == pytest.approx(expected)
    # min_grade=3: only a is relevant and it is first -> 1/1 / 1
    assert average_precision(RANKED, GRADED, min_grade=3) == 1.0
    assert average_precision(RANKED, {"a": 1}) == 0.0


def test_reciprocal_rank_hand_computed() -> None:
    # first candidate with grade >= 2 is c at rank 3 -> 1/3
    assert reciprocal_rank(["b", "z", "c"], GRADED) == pytest.approx(1 / 3)
    # with min_grade=1, b (grade 1) at rank 1 counts -> 1/1
    assert reciprocal_rank(["b", "z", "c"], GRADED, min_grade=1) == 1.0
    assert reciprocal_rank(["b", "e"], GRADED) == 0.0


def test_precision_at_k_hand_computed() -> None:
    # top 5 holds a, c, d relevant -> 3/5
    assert precision_at_k(RANKED, GRADED, k=5) == pytest.approx(0.6)
    # top 2 holds a -> 1/2
    assert precision_at_k(RANKED, GRADED, k=2) == pytest.approx(0.5)
    # trec_eval divides by k even when fewer were retrieved: 1 relevant / 10
    assert precision_at_k(["a"], GRADED, k=10) == pytest.approx(0.1)


def test_recall_at_k_hand_computed() -> None:
    # top 3 holds a, c out of 4 relevant (a, c, d, x) -> 2/4
    assert recall_at_k(RANKED, GRADED, k=3) == pytest.approx(0.5)
    # the whole list holds a, c, d -> 3/4; x is never retrieved
    assert recall_at_k(RANKED, GRADED, k=100) == pytest.approx(0.75)
    assert recall_at_k(RANKED, {"b": 1}, k=100) == 0.0


def test_duplicates_count_once() -> None:
    # a twice must not count as two relevant hits: AP stays 1/2 (a at 1, of a and c)
    assert average_precision(["a", "a", "b"], {"a": 2, "c": 2}) == pytest.approx(0.5)


@pytest.mark.parametrize("seed", range(5))
def test_perfect_ranking_scores_one_and_reversed_scores_lower(seed: int) -> None:
    rng = np.random.default_rng(seed)
    grades = [0, 3, *rng.integers(0, 4, size=10).tolist()]
    judgments = {f"c{i}": int(g) for i, g in enumerate(grades)}
    perfect = sorted(judgments, key=lambda cid: -judgments[cid])
    reversed_ = perfect[::-1]

    for metric in (ndcg_at_k, average_precision, reciprocal_rank):
        assert metric(perfect, judgments) == pytest.approx(1.0)
        assert metric(reversed_, judgments) < 1.0
    assert ndcg_at_k(reversed_, judgments) < ndcg_at_k(perfect, judgments)


def test_metric_config_validation_and_names() -> None:
    assert metric_names(MetricConfig()) == ["ndcg@10", "map", "mrr", "p@5", "recall@100"]
    assert metric_names(MetricConfig(ndcg_k=3, precision_k=1, recall_k=20)) == [
        "ndcg@3",
        "map",
        "mrr",
        "p@1",
        "recall@20",
    ]
    with pytest.raises(ConfigError, match="ndcg_k"):
        MetricConfig(ndcg_k=0)
    with pytest.raises(ConfigError, match="min_grade"):
        MetricConfig(min_grade=True)
    with pytest.raises(ConfigError, match="gain"):
        MetricConfig(gain="log")


QRELS = {
    "q1": {"a": 2, "b": 0},
    "q2": {"c": 3},
    "q3": {"d": 1},  # nothing >= 2: not evaluable
}
RUN = {"q1": [("a", 0.9), ("b", 0.1)], "q3": [("d", 1.0)]}  # q2 returned nothing


def test_evaluate_run_scores_missing_query_zero_and_excludes_unjudged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="shortlister.evaluation.metrics"):
        means, per_query = evaluate_run(RUN, QRELS)

    # q1 is perfect (p@5 = 1/5), q2 scores 0 everywhere, q3 is excluded
    assert per_query["query_id"].tolist() == ["q1", "q2"]
    assert list(per_query.columns) == ["query_id", "ndcg@10", "map", "mrr", "p@5", "recall@100"]
    assert per_query.set_index("query_id").loc["q2"].tolist() == [0.0] * 5
    assert means == pytest.approx(
        {"ndcg@10": 0.5, "map": 0.5, "mrr": 0.5, "p@5": 0.1, "recall@100": 0.5, "n_queries": 2}
    )
    assert "Excluded 1 queries" in caplog.text
    assert "q3" in caplog.text


def test_evaluate_run_filters_to_split() -> None:
    means, per_query = evaluate_run(RUN, QRELS, query_ids=["q1"])
    assert means["n_queries"] == 1
    assert means["map"] == 1.0

    # q9 has no judgments at all: excluded, not scored
    means, per_query = evaluate_run(RUN, QRELS, query_ids=["q2", "q9", "q2"])
    assert per_query["query_id"].tolist() == ["q2"]
    assert means["ndcg@10"] == 0.0


def test_evaluate_run_uses_config_cutoffs() -> None:
    cfg = MetricConfig(ndcg_k=1, precision_k=1, recall_k=1, min_grade=1)
    run = {"q": [("b", 2.0), ("a", 1.0)]}

    means, _ = evaluate_run(run, {"q": {"a": 2, "b": 1}}, cfg)

    # b (grade 1) first: ndcg@1 = 1/2, p@1 = 1, recall@1 = 1/2, AP = (1 + 2/2) / 2 = 1
    assert means == pytest.approx(
        {"ndcg@1": 0.5, "map": 1.0, "mrr": 1.0, "p@1": 1.0, "recall@1": 0.5, "n_queries": 1}
    )


def test_evaluate_run_without_evaluable_queries_gives_nan() -> None:
    means, per_query = evaluate_run(RUN, QRELS, query_ids=["q3"])

    assert per_query.empty
    assert means["n_queries"] == 0
    assert math.isnan(means["map"])
