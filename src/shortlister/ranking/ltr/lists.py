"""The data: one query's re-ranking list (pool positions, features, grades), and batches.

A list is the query's candidate list (`features.candidate_list`), its unscaled feature
rows and the grades of its judged candidates (unjudged 0); training pads lists into one
(Q, Lmax, F) batch with a valid mask.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from shortlister.evaluation.metrics import ndcg_at_k
from shortlister.evaluation.trec import Qrels
from shortlister.ranking.features import (
    FeatureConfig,
    FeatureScaler,
    PoolIndex,
    QueryScores,
    candidate_list,
    pair_features,
)


@dataclass
class RankingList:
    """One query's re-ranking list: pool positions, raw features, grades (unjudged 0)."""

    query_id: str
    idx: np.ndarray  # (L,) positions in the pool, ascending
    ids: list[str]
    features: np.ndarray  # (L, F) unscaled
    labels: np.ndarray  # (L,) int grades
    judgments: dict[str, int]  # every judgment of the query, for NDCG against all of them


def build_lists(
    index: PoolIndex,
    qs: QueryScores,
    query_ids: Sequence[str],
    qrels: Qrels,
    cfg: FeatureConfig,
    rows: Sequence[int] | None = None,
    with_features: bool = True,
) -> list[RankingList]:
    """Lists of the queries `query_ids` (rows `rows` of `qs`, default 0..n-1).

    `with_features=False` leaves the feature matrices empty (enough for `recall_ceiling`).
    """
    rows = range(len(query_ids)) if rows is None else rows
    out = []
    for qid, row in zip(query_ids, rows, strict=True):
        idx = candidate_list(qs, row, cfg.candidates_per_query)
        judged = qrels.get(qid, {})
        ids = [index.ids[i] for i in idx]
        out.append(
            RankingList(
                qid,
                idx,
                ids,
                pair_features(index, qs, row, idx, cfg)
                if with_features
                else np.zeros((len(idx), 0), dtype=np.float32),
                np.array([judged.get(c, 0) for c in ids], dtype=np.int64),
                dict(judged),
            )
        )
    return out


def recall_ceiling(lists: Sequence[RankingList], min_grade: int = 2, k: int = 10) -> dict:
    """What re-ranking these lists can reach at best: recall of relevant judged candidates,
    and NDCG@k of the perfect order of each list (against all judgments)."""
    recalls, ndcgs = [], []
    for lst in lists:
        n_rel = sum(g >= min_grade for g in lst.judgments.values())
        if n_rel == 0:
            continue
        recalls.append(float((lst.labels >= min_grade).sum()) / n_rel)
        best = [lst.ids[i] for i in np.argsort(-lst.labels, kind="stable")]
        ndcgs.append(ndcg_at_k(best, lst.judgments, k))
    return {
        "recall": float(np.mean(recalls)) if recalls else math.nan,
        f"ndcg@{k}": float(np.mean(ndcgs)) if ndcgs else math.nan,
        "mean_list_length": float(np.mean([len(x.ids) for x in lists])) if lists else 0.0,
    }


def padded(
    lists: Sequence[RankingList], scaler: FeatureScaler
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scaled features (Q, Lmax, F), labels (Q, Lmax) and the valid mask, padded with zeros."""
    length = max(len(x.ids) for x in lists)
    n_feat = lists[0].features.shape[1]
    x = np.zeros((len(lists), length, n_feat), dtype=np.float32)
    y = np.zeros((len(lists), length), dtype=np.int64)
    valid = np.zeros((len(lists), length), dtype=bool)
    for i, lst in enumerate(lists):
        n = len(lst.ids)
        x[i, :n], y[i, :n], valid[i, :n] = scaler.transform(lst.features), lst.labels, True
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(valid)
