"""A trained ranker at work: score a pool for a query, re-rank its candidate list, search.

The model re-ranks the query's candidate list (the union of the pool's best by
Sentence-BERT and by TF-IDF); the rest of the pool follows in Sentence-BERT order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from shortlister.embeddings.base import Embedder
from shortlister.evaluation.trec import Run, read_queries, write_run
from shortlister.ranking.cosine import rank, top_k
from shortlister.ranking.features import (
    CrossScore,
    FeatureConfig,
    FeatureScaler,
    PoolIndex,
    QueryScores,
    add_cross_scores,
    build_pool_index,
    candidate_list,
    pair_features,
    score_queries,
)
from shortlister.ranking.ltr.model import RankNet, score_list


def rerank_scores(head_idx: np.ndarray, head_scores: np.ndarray, base: np.ndarray) -> np.ndarray:
    """One score per pool candidate whose descending order is the re-ranked ranking.

    The list keeps the model's scores; every other candidate follows, in the order of
    the first-stage score `base`, strictly below the list's lowest score.
    """
    out = np.empty(base.shape[0], dtype=np.float64)
    floor = float(head_scores.min()) - 1.0 if len(head_scores) else 0.0
    out[:] = floor - (float(base.max()) - base.astype(np.float64))
    out[head_idx] = head_scores
    return out


def tie_rate(scores: np.ndarray, k: int = 10) -> float:
    """Share of the top-k positions whose float32 score equals another top-k score."""
    top = np.asarray(scores, dtype=np.float32)[top_k(np.asarray(scores, np.float32), k)]
    if len(top) == 0:
        return 0.0
    _, inverse, counts = np.unique(top, return_inverse=True, return_counts=True)
    return float((counts[inverse] > 1).mean())


@dataclass
class LtrRanker:
    """A trained ranker: re-ranks a pool's best Sentence-BERT/TF-IDF candidates per query."""

    model: RankNet
    scaler: FeatureScaler
    features: FeatureConfig
    sbert: Embedder
    name: str = "ranknet"
    cross: CrossScore | None = None  # scores (role, headline) pairs when features use it
    _cache: tuple[tuple, PoolIndex] | None = field(default=None, repr=False)

    def index(self, pool: pd.DataFrame | PoolIndex) -> PoolIndex:
        """The pool's candidate-side features; the last pool's index is kept for reuse."""
        if isinstance(pool, PoolIndex):
            return pool
        key = (tuple(pool["id"].astype(str)), tuple(pool["title"].astype(str)))
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, build_pool_index(pool, self.features, sbert=self.sbert))
        return self._cache[1]

    def query_scores(
        self, index: PoolIndex, queries: Sequence[str], vectors: np.ndarray | None = None
    ) -> QueryScores:
        qs = score_queries(index, queries, self.sbert, vectors)
        if self.features.uses_cross:
            if self.cross is None:
                raise ValueError(f"{self.name}: its features use the cross-encoder; none loaded")
            add_cross_scores(index, qs, queries, self.cross, self.features.cross_depth)
        return qs

    def score_rows(self, index: PoolIndex, qs: QueryScores, row: int, idx: np.ndarray):
        return score_list(
            self.model, self.scaler, pair_features(index, qs, row, idx, self.features)
        )

    def score(self, query: str, pool: pd.DataFrame | PoolIndex) -> np.ndarray:
        """Model scores of every candidate of the pool for one query, float32."""
        index = self.index(pool)
        qs = self.query_scores(index, [query])
        return self.score_rows(index, qs, 0, np.arange(len(index)))

    def rerank(self, index: PoolIndex, qs: QueryScores, row: int) -> np.ndarray:
        """Full-pool scores of query `row`: its candidate list re-ranked, then the rest."""
        idx = candidate_list(qs, row, self.features.candidates_per_query)
        head = self.score_rows(index, qs, row, idx)
        return rerank_scores(idx, head, qs.scores["sbert_cos"][row])

    def search(
        self, query: str, pool: pd.DataFrame | PoolIndex, k: int = 10
    ) -> tuple[np.ndarray, np.ndarray]:
        """(row order of the best k, scores of every candidate), as `CandidatePool.search`."""
        index = self.index(pool)
        scores = self.rerank(index, self.query_scores(index, [query]), 0)
        return top_k(scores, k), scores

    def batch(self, queries: pd.DataFrame, pool: pd.DataFrame | PoolIndex, k: int) -> Run:
        index = self.index(pool)
        qs = self.query_scores(index, queries["query"].tolist())
        return {
            qid: rank(index.ids, self.rerank(index, qs, row), k)
            for row, qid in enumerate(queries["query_id"])
        }

    def write_batch_run(
        self,
        queries_path: str | Path,
        pool: pd.DataFrame | PoolIndex,
        out: str | Path,
        *,
        top_k: int,
        tag: str,
    ) -> int:
        queries = read_queries(queries_path)
        write_run(out, self.batch(queries, pool, top_k), tag=tag)
        return len(queries)
