"""Re-ranking a first stage's top N with the cross-encoder, and choosing N and the blend.

For one query the first stage's top N candidates get a cross-encoder score; the new
order is by ``(1 - w) * z(first) + w * z(cross)``, both z-scored over those N, so the
blend weight means the same for any pool and any score scale (w = 1: the cross-encoder
alone; w = 0: the first stage unchanged). Candidates below N keep their first-stage order
under the re-ranked block. N and w are chosen on the default dataset's validation queries
only (`cross.rerank.select_on`); the benchmarks never vote.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shortlister.evaluation.metrics import MetricConfig, evaluate_run

logger = logging.getLogger(__name__)

Ranked = list[tuple[str, float]]


def zscore(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    sd = x.std()
    return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)


def blend(first: np.ndarray, cross: np.ndarray, weight: float) -> np.ndarray:
    """(1 - w) z(first) + w z(cross); w in [0, 1]."""
    return (1.0 - weight) * zscore(first) + weight * zscore(cross)


def rerank_list(ranked: Ranked, cross: np.ndarray, top_n: int, weight: float) -> Ranked:
    """`ranked` (first stage, best first) with its top `top_n` re-ordered by the blend.

    `cross` holds cross-encoder scores of at least the first `top_n` entries. The re-ranked
    block's scores sit above every score below it, so a run file keeps the order."""
    n = min(top_n, len(ranked))
    if n == 0:
        return list(ranked)
    head = ranked[:n]
    mixed = blend(np.array([s for _, s in head]), np.asarray(cross[:n]), weight)
    order = np.argsort(-mixed, kind="stable")
    tail = ranked[n:]
    floor = max((s for _, s in tail), default=0.0)
    shift = floor + 1.0 - float(mixed.min())
    return [(head[i][0], float(mixed[i] + shift)) for i in order] + list(tail)


@dataclass
class Choice:
    top_n: int
    weight: float
    value: float  # the selection metric on the selection queries
    grid: list[dict[str, float]]


def choose(
    runs: Mapping[str, Ranked],
    cross: Mapping[str, np.ndarray],
    qrels: Mapping[str, Mapping[str, int]],
    query_ids: Sequence[str],
    top_ns: Sequence[int],
    weights: Sequence[float],
    metric_cfg: MetricConfig,
    metric: str = "map",
) -> Choice:
    """The (N, w) of the grid with the best `metric` on `query_ids` (ties: smaller N, w)."""
    grid, best = [], None
    for n in sorted(top_ns):
        for w in sorted(weights):
            run = {q: rerank_list(runs[q], cross[q], n, w) for q in query_ids}
            means, _ = evaluate_run(run, qrels, metric_cfg, query_ids=list(query_ids))
            value = float(means[metric])
            ndcg = round(float(means["ndcg@10"]), 4)
            grid.append({"top_n": n, "weight": w, metric: round(value, 4), "ndcg@10": ndcg})
            if best is None or value > best[2] + 1e-9:
                best = (n, w, value)
    assert best is not None
    logger.info("cross-encoder: chose top_n=%d weight=%.2f (%s %.4f)", *best[:2], metric, best[2])
    return Choice(best[0], best[1], best[2], grid)


def score_heads(
    runs: Mapping[str, Ranked],
    queries: Mapping[str, str],
    titles: Mapping[str, str],
    score: Callable[[str, list[str]], np.ndarray],
    depth: int,
    progress: Callable | None = None,
) -> dict[str, np.ndarray]:
    """Cross-encoder scores of each query's first `depth` candidates."""
    items = list(runs.items())
    out = {}
    for qid, ranked in progress(items) if progress else items:
        texts = [titles[cid] for cid, _ in ranked[:depth]]
        out[qid] = score(queries[qid], texts) if texts else np.zeros(0, dtype=np.float32)
    return out


HEADS_DIR = "heads"  # runs/cross-encoder/heads/<dataset>.tsv: raw scores, a ranker feature


def write_heads(path: Path, run: dict[str, Any], heads: dict[str, Any]) -> None:
    """query_id, id, cross: the cross-encoder's score of each query's scored head."""
    rows = [
        (qid, cid, float(score))
        for qid, ranked in run.items()
        for (cid, _), score in zip(ranked, heads[qid], strict=False)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["query_id", "id", "cross"]).to_csv(
        path, sep="\t", index=False, float_format="%.6f"
    )


def read_heads(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no cross-encoder scores (run `dvc repro cross_encoder`)")
    return pd.read_csv(path, sep="\t", dtype={"query_id": str, "id": str})
