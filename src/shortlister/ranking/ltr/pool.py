"""A trained ranker over one pool, indexed once: the learned methods of the service and CLI.

Start-up builds the pool's candidate-side features once (`LtrRanker.index`, kept here as
a `PoolIndex`); a request only does query-side work: encode the query (LRU-cached),
score it against the index, and run the model over its candidate list.

Ranking with a query and no stars is the learned ranking itself (`LtrRanker.rerank`: the
query's candidate list in model-score order, then the rest of the pool in Sentence-BERT
order below it), and the scores returned are the model's raw scores.

Stars (the choice documented here): the learned score is min-max normalised over the
pool for this request (best 1, worst 0) and blended as the cosine methods blend the
query's cosine, ``(1-w)·norm_learned + w·cos(c, starred mean)``, where the starred mean
lives in the Sentence-BERT space of the ranker's own candidate-side index (the same
vectors its features use). The same star_weight applies, starred candidates are pinned
first and flagged, and stars without a query rank by the stars alone (Sentence-BERT).
The learned scores are unbounded and their range varies by query, so normalising per
request keeps the star weight's meaning close to the cosine methods'.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from shortlister.ranking.features import PoolIndex, build_pool_index
from shortlister.ranking.ltr.ranker import LtrRanker
from shortlister.ranking.nomatch import MatchReport
from shortlister.ranking.pool import CandidatePool, LRUCache
from shortlister.ranking.starred import MAX_STARS, StarredRanking


def minmax(scores: np.ndarray) -> np.ndarray:
    """Scores rescaled to [0, 1] (float32); all equal -> all 1."""
    scores = np.asarray(scores, dtype=np.float64)
    lo, hi = float(scores.min()), float(scores.max())
    if hi <= lo:
        return np.ones(scores.shape, dtype=np.float32)
    return ((scores - lo) / (hi - lo)).astype(np.float32)


@dataclass
class LearnedRanker:
    """`CandidatePool`'s serving interface (positions, query_scores, rank_scores, matrix, embedder)
    over a trained `LtrRanker` and its pool index, built once."""

    ltr: LtrRanker
    index: PoolIndex
    stars: CandidatePool  # the index's Sentence-BERT rows: star similarities and the query LRU
    score_cache_bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._scores = LRUCache(max_bytes=self.score_cache_bytes)

    @classmethod
    def build(
        cls,
        ltr: LtrRanker,
        pool: pd.DataFrame,
        *,
        sbert_matrix: np.ndarray | None = None,
        query_cache_size: int = 0,
        score_cache_bytes: int = 0,
    ) -> LearnedRanker:
        """Index the pool once (reusing `sbert_matrix`, the pool's stored or fitted
        Sentence-BERT rows, when given) and keep it in the ranker for reuse."""
        pool = pool.reset_index(drop=True)
        if sbert_matrix is None:
            index = ltr.index(pool)
        else:
            index = build_pool_index(pool, ltr.features, sbert=ltr.sbert, sbert_matrix=sbert_matrix)
            key = (tuple(pool["id"].astype(str)), tuple(pool["title"].astype(str)))
            ltr._cache = (key, index)  # what ltr.index(pool) would have built
        stars = CandidatePool(
            pool,
            ltr.sbert,
            index.sbert,
            query_cache_size=query_cache_size,
            score_cache_bytes=score_cache_bytes,
        )
        return cls(ltr, index, stars, score_cache_bytes)

    @property
    def name(self) -> str:
        return self.ltr.name

    @property
    def matrix(self) -> np.ndarray:
        return self.index.sbert

    @property
    def embedder(self):
        return self.ltr.sbert

    @cached_property
    def positions(self) -> dict[str, int]:
        return self.stars.positions

    def match(self, query: str) -> MatchReport:
        """No-match is judged in the ranker's Sentence-BERT space, as for `CandidatePool`."""
        return self.stars.match(query)

    def query_scores(self, query: str) -> tuple[np.ndarray, bool]:
        """The learned ranking's full-pool scores (raw, float64) and whether the query
        was not re-encoded. Only query-side work: the pool's index is reused."""
        scores = self._scores.get(query)
        if scores is not None:
            return scores, True
        vector, cached = self.stars.encode_query(query)
        with self._lock:  # the model and the query-side scorers, one request at a time
            qs = self.ltr.query_scores(self.index, [query], np.asarray(vector, np.float32))
            scores = self.ltr.rerank(self.index, qs, 0)
        self._scores.put(query, scores)
        return scores, cached

    def rank_scores(
        self,
        query_scores: np.ndarray | None,
        stars: Sequence[str] = (),
        *,
        k: int = 10,
        star_weight: float = 0.5,
        max_stars: int = MAX_STARS,
    ) -> StarredRanking:
        """As `CandidatePool.rank_scores`; with stars, the learned scores are min-max normalised
        first (see the module docstring)."""
        if stars and query_scores is not None:
            query_scores = minmax(query_scores)
        return self.stars.rank_scores(
            query_scores, stars, k=k, star_weight=star_weight, max_stars=max_stars
        )
