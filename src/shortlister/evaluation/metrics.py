"""Standard IR metrics with trec_eval conventions.

* Unjudged candidates count as non-relevant (grade 0).
* Binary metrics call a candidate relevant when its grade is ``>= min_grade``; their
  denominators count the relevant candidates in the judgments, retrieved or not.
* NDCG's ideal ranking is built from *all* judged grades of the query, so a method
  that fails to retrieve a relevant candidate is penalised.
* A duplicated candidate in a ranking counts once, at its first position.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from shortlister.core.checks import check_choice, check_int
from shortlister.core.errors import ConfigError
from shortlister.evaluation.trec import Qrels, Run

logger = logging.getLogger(__name__)

GAINS = ("linear", "exponential")


def dcg_at_k(gains: Sequence[float], k: int) -> float:
    """Discounted cumulative gain of the first ``k`` gains: sum of g_i / log2(i + 1), i >= 1."""
    _check_k(k)
    return sum(g / math.log2(i + 1) for i, g in enumerate(gains[:k], start=1))


def ndcg_at_k(
    ranked_ids: Sequence[str],
    judgments: Mapping[str, int],
    k: int = 10,
    gain: str = "linear",
) -> float:
    """NDCG@k; ``gain="linear"`` uses the grade (as sklearn), ``"exponential"`` 2**grade - 1.

    Returns 0.0 when the query has no positive grade.
    """
    to_gain = _gain_function(gain)
    ideal = dcg_at_k(sorted((to_gain(g) for g in judgments.values()), reverse=True), k)
    if ideal <= 0:
        return 0.0
    gains = [to_gain(judgments.get(cid, 0)) for cid in _dedupe(ranked_ids)[:k]]
    return dcg_at_k(gains, k) / ideal


def average_precision(
    ranked_ids: Sequence[str], judgments: Mapping[str, int], min_grade: int = 2
) -> float:
    """AP: mean of precision at each relevant rank, over all relevant judged candidates."""
    n_relevant = _count_relevant(judgments, min_grade)
    if n_relevant == 0:
        return 0.0
    hits, total = 0, 0.0
    for rank, cid in enumerate(_dedupe(ranked_ids), start=1):
        if judgments.get(cid, 0) >= min_grade:
            hits += 1
            total += hits / rank
    return total / n_relevant


def reciprocal_rank(
    ranked_ids: Sequence[str], judgments: Mapping[str, int], min_grade: int = 2
) -> float:
    """1 / rank of the first relevant candidate; 0.0 when none is retrieved."""
    for rank, cid in enumerate(_dedupe(ranked_ids), start=1):
        if judgments.get(cid, 0) >= min_grade:
            return 1.0 / rank
    return 0.0


def precision_at_k(
    ranked_ids: Sequence[str], judgments: Mapping[str, int], k: int = 5, min_grade: int = 2
) -> float:
    """Relevant among the top ``k``, divided by ``k`` even when fewer were retrieved."""
    _check_k(k)
    top = _dedupe(ranked_ids)[:k]
    return sum(judgments.get(cid, 0) >= min_grade for cid in top) / k


def recall_at_k(
    ranked_ids: Sequence[str], judgments: Mapping[str, int], k: int = 100, min_grade: int = 2
) -> float:
    """Relevant among the top ``k``, divided by all relevant judged candidates."""
    _check_k(k)
    n_relevant = _count_relevant(judgments, min_grade)
    if n_relevant == 0:
        return 0.0
    top = _dedupe(ranked_ids)[:k]
    return sum(judgments.get(cid, 0) >= min_grade for cid in top) / n_relevant


@dataclass
class MetricConfig:
    """Which cut-offs and relevance threshold the evaluation uses."""

    ndcg_k: int = 10
    precision_k: int = 5
    recall_k: int = 100
    min_grade: int = 2
    gain: str = "linear"

    def __post_init__(self) -> None:
        for name in ("ndcg_k", "precision_k", "recall_k", "min_grade"):
            check_int(f"metrics.{name}", getattr(self, name), minimum=1)
        check_choice("metrics.gain", self.gain, GAINS)

    @classmethod
    def from_config(cls, evaluation: Mapping[str, Any]) -> MetricConfig:
        """From params' `evaluation` section: its metric keys (`run_depth` and the other
        keys there belong to other readers)."""
        names = [f.name for f in fields(cls)]
        missing = [name for name in names if name not in evaluation]
        if missing:
            raise ConfigError(f"evaluation: missing keys {missing}; expected all of {names}")
        return cls(**{name: evaluation[name] for name in names})


def metric_names(cfg: MetricConfig) -> list[str]:
    """Metric names in report order, e.g. ``["ndcg@10", "map", "mrr", "p@5", "recall@100"]``."""
    return [f"ndcg@{cfg.ndcg_k}", "map", "mrr", f"p@{cfg.precision_k}", f"recall@{cfg.recall_k}"]


def query_metrics(
    ranked_ids: Sequence[str], judgments: Mapping[str, int], cfg: MetricConfig
) -> dict[str, float]:
    """All configured metrics for one query, keyed as in :func:`metric_names`."""
    values = (
        ndcg_at_k(ranked_ids, judgments, cfg.ndcg_k, cfg.gain),
        average_precision(ranked_ids, judgments, cfg.min_grade),
        reciprocal_rank(ranked_ids, judgments, cfg.min_grade),
        precision_at_k(ranked_ids, judgments, cfg.precision_k, cfg.min_grade),
        recall_at_k(ranked_ids, judgments, cfg.recall_k, cfg.min_grade),
    )
    return dict(zip(metric_names(cfg), values, strict=True))


def evaluate_run(
    run: Run,
    qrels: Qrels,
    cfg: MetricConfig | None = None,
    query_ids: Iterable[str] | None = None,
) -> tuple[dict[str, float], pd.DataFrame]:
    """Score ``run`` against ``qrels`` and average over queries.

    ``query_ids`` selects the queries (e.g. one split; default: every judged query).
    A selected query missing from ``run`` scores 0 on every metric. Queries with no
    candidate graded ``>= min_grade`` are excluded from the means and the frame.

    Returns the means (plus ``"n_queries"``, the number averaged; means are NaN when it
    is 0) and a per-query frame with ``query_id`` and one column per metric.
    """
    cfg = cfg or MetricConfig()
    names = metric_names(cfg)
    selected = sorted(qrels) if query_ids is None else list(dict.fromkeys(query_ids))
    rows = []
    unjudged = []
    for query_id in selected:
        judgments = qrels.get(query_id, {})
        if _count_relevant(judgments, cfg.min_grade) == 0:
            unjudged.append(query_id)
            continue
        ranked = [cid for cid, _ in run.get(query_id, [])]
        rows.append({"query_id": query_id, **query_metrics(ranked, judgments, cfg)})
    _warn_excluded(unjudged, cfg.min_grade)
    per_query = pd.DataFrame(rows, columns=["query_id", *names])
    means = _means(per_query, names)
    return means, per_query


def _means(per_query: pd.DataFrame, names: list[str]) -> dict[str, float]:
    if per_query.empty:
        logger.warning("No query has relevant judgments; every metric is NaN")
        means = dict.fromkeys(names, math.nan)
    else:
        means = {name: float(per_query[name].mean()) for name in names}
    means["n_queries"] = float(len(per_query))
    return means


def _warn_excluded(query_ids: list[str], min_grade: int) -> None:
    if query_ids:
        logger.warning(
            "Excluded %d queries with no candidate graded >= %d from the means: %s",
            len(query_ids),
            min_grade,
            ", ".join(query_ids[:10]) + (" ..." if len(query_ids) > 10 else ""),
        )


def _gain_function(gain: str) -> Callable[[int], float]:
    if gain == "linear":
        # Negative grades (e.g. -1 "spam" in some qrels) are non-relevant, not a penalty.
        return lambda grade: float(max(grade, 0))
    if gain == "exponential":
        return lambda grade: float(2 ** max(grade, 0) - 1)
    raise ConfigError(f"gain must be one of {list(GAINS)}, got {gain!r}")


def _count_relevant(judgments: Mapping[str, int], min_grade: int) -> int:
    return sum(grade >= min_grade for grade in judgments.values())


def _dedupe(ranked_ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(ranked_ids))


def _check_k(k: int) -> None:
    if k < 1:
        raise ConfigError(f"cut-off k must be >= 1, got {k}")
