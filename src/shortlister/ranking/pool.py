"""A candidate pool embedded once, searched many times (CLI, service, evaluation)."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shortlister.core.errors import DataError
from shortlister.embeddings.base import Embedder, Matrix, build_embedder, load_embedder, load_matrix
from shortlister.evaluation.trec import Run, read_queries, write_run
from shortlister.index.config import IndexConfig
from shortlister.ranking.cosine import cosine_scores, rank
from shortlister.ranking.indexed import QueryHits, index_for, indexed_rank, query_hits
from shortlister.ranking.nomatch import MatchReport, dense_ratio, match_floor, report
from shortlister.ranking.starred import (
    MAX_STARS,
    StarConfig,
    StarredRanking,
    blend_scores,
    blend_vector,
    rerank,
    scores_for,
    select,
    star_indices,
    star_similarity,
    star_sum_norm,
)

logger = logging.getLogger(__name__)


class LRUCache:
    """A thread-safe LRU bounded by entries and, for arrays, by their total bytes."""

    def __init__(self, max_items: int | None = None, max_bytes: int | None = None) -> None:
        self.max_items, self.max_bytes = max_items, max_bytes
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return (self.max_items is None or self.max_items > 0) and (
            self.max_bytes is None or self.max_bytes > 0
        )

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            if key not in self._data:
                return None
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key: Hashable, value: Any) -> None:
        size = int(getattr(value, "nbytes", 0))
        if not self.enabled or (self.max_bytes is not None and size > self.max_bytes):
            return
        with self._lock:
            if key in self._data:
                self._bytes -= int(getattr(self._data.pop(key), "nbytes", 0))
            self._data[key] = value
            self._bytes += size
            while (self.max_items is not None and len(self._data) > self.max_items) or (
                self.max_bytes is not None and self._bytes > self.max_bytes
            ):
                _, old = self._data.popitem(last=False)
                self._bytes -= int(getattr(old, "nbytes", 0))

    def __len__(self) -> int:
        return len(self._data)


@dataclass
class CandidatePool:
    pool: pd.DataFrame  # cleaned candidates: id, title, ...
    embedder: Embedder
    matrix: Matrix
    query_cache_size: int = 0  # query vectors kept in memory (0: none)
    # Score vectors (one float32 per candidate) of recent queries and stars, so a star
    # toggle re-ranks without a pass over the pool's vectors (0: none).
    score_cache_bytes: int = 0
    # Dense methods' no-match floor as a share of the typical best (None: per method).
    no_match_ratio: float | None = None
    # An AnnIndex over `matrix` (large pools, see ranking.indexed.index_for): searches go
    # through it, a query with stars as one search with the blended vector. None: exact.
    index: Any = None
    index_depth: int = 200  # rows a query's own search keeps (the service's max_top_k)
    _encode_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.matrix.shape[0] != len(self.pool):
            raise DataError(
                f"{self.matrix.shape[0]} embedding rows for {len(self.pool)} candidates; "
                "expected one row per candidate"
            )
        self._vectors = LRUCache(max_items=self.query_cache_size)
        self._scores = LRUCache(max_bytes=self.score_cache_bytes)

    @classmethod
    def fit(
        cls,
        pool: pd.DataFrame,
        method_cfg: Mapping[str, Any],
        index_cfg: IndexConfig | None = None,
        **kwargs: Any,
    ) -> CandidatePool:
        """Fit `method_cfg` on the pool's titles; indexed when `index_cfg` says it is large."""
        titles = pool["title"].tolist()
        embedder = build_embedder(method_cfg).fit(titles)
        matrix = embedder.encode(titles)
        index = None if index_cfg is None else index_for(matrix, embedder, index_cfg)
        return cls(pool.reset_index(drop=True), embedder, matrix, index=index, **kwargs)

    @classmethod
    def from_stored(
        cls,
        pool: pd.DataFrame,
        model_dir: str | Path,
        embeddings_stem: str | Path,
        index_cfg: IndexConfig | None = None,
        index_dir: str | Path | None = None,
        **kwargs: Any,
    ) -> CandidatePool:
        """A pool with the embedder and embeddings the embed stage stored for it.

        Dense embeddings are memory-mapped, not read: a 1M pool starts in seconds. With
        `index_cfg`, a pool of at least `index_cfg.min_pool` rows is searched through the
        index stored in `index_dir` (checked against the embeddings; built when absent).

        Raises DataError when the stored ids (`<stem>.ids.txt`) are not the pool's ids
        in the same order: the rows would belong to other candidates.
        """
        ids_path = Path(f"{embeddings_stem}.ids.txt")
        if not ids_path.exists():
            raise FileNotFoundError(f"{ids_path}: no stored ids (run the embed stage)")
        stored = ids_path.read_text().split()
        if stored != pool["id"].astype(str).tolist():
            raise DataError(
                f"stored embeddings are for {len(stored)} other or reordered candidates; "
                f"expected the {len(pool)} ids of this pool in order",
                path=ids_path,
            )
        embedder, matrix = load_embedder(model_dir), load_matrix(embeddings_stem, mmap=True)
        index = None if index_cfg is None else index_for(matrix, embedder, index_cfg, index_dir)
        return cls(pool.reset_index(drop=True), embedder, matrix, index=index, **kwargs)

    @cached_property
    def ids(self) -> list[str]:
        return self.pool["id"].tolist()

    @cached_property
    def positions(self) -> dict[str, int]:
        """id -> row; built once so validating stars does not scan the pool."""
        return {cid: i for i, cid in enumerate(self.ids)}

    @cached_property
    def match_floor(self) -> float:
        """Best query scores at or under this mean no candidate matches (see nomatch)."""
        ratio = self.no_match_ratio
        if ratio is None:
            ratio = dense_ratio(getattr(self.embedder, "name", ""))
        return match_floor(self.matrix, ratio)

    def match(self, query: str) -> MatchReport:
        """Whether any candidate matches `query` at all (its scores come from the cache)."""
        scores = self.query_scores(query)[0]
        if isinstance(scores, QueryHits):
            return report(scores.scores[:1], self.match_floor)
        return report(scores, self.match_floor)

    def encode_query(self, query: str) -> tuple[Matrix, bool]:
        """The query's vector and whether it came from the in-memory LRU cache."""
        vector = self._vectors.get(query)
        if vector is not None:
            return vector, True
        with self._encode_lock:
            vector = self.embedder.encode([query])
        self._vectors.put(query, vector)
        return vector, False

    def query_scores(self, query: str) -> tuple[np.ndarray | QueryHits, bool]:
        """Every candidate's cosine to the query, and whether the query was not re-encoded.

        Re-ranking on a star toggle repeats the query: its scores (or at least its
        vector) come from the caches. Through an index: the query's vector and its best
        `index_depth` rows (QueryHits), cached the same way.
        """
        scores = self._scores.get(("query", query))
        if scores is not None:
            return scores, True
        vector, cached = self.encode_query(query)
        if self.index is not None:
            hits = query_hits(self.index, vector, self.index_depth)
            self._scores.put(("query", query), hits)
            return hits, cached
        scores = scores_for(self.matrix, blend_vector(self.matrix, vector, [], StarConfig()))
        self._scores.put(("query", query), scores)
        return scores, cached

    def _star_similarity(self, row: int) -> np.ndarray:
        sims = self._scores.get(("star", row))
        if sims is None:
            sims = star_similarity(self.matrix, row)
            self._scores.put(("star", row), sims)
        return sims

    def rank_scores(
        self,
        query_scores: np.ndarray | QueryHits | None,
        stars: Sequence[str] = (),
        *,
        k: int = 10,
        star_weight: float = 0.5,
        max_stars: int = MAX_STARS,
    ) -> StarredRanking:
        """Re-rank from the query's scores (`query_scores`; None: stars alone)."""
        cfg = StarConfig(star_weight=star_weight, max_stars=max_stars)
        idx = star_indices(self.positions, stars, cfg.max_stars)
        if self.index is not None:
            return indexed_rank(self.index, self.matrix, query_scores, idx, k, cfg)
        sims = [self._star_similarity(i) for i in idx]
        norm = star_sum_norm(self.matrix, idx) if idx else 0.0
        return select(blend_scores(query_scores, sims, norm, cfg), idx, k)

    def rerank(
        self,
        query_vector: Matrix | None,
        stars: Sequence[str] = (),
        *,
        k: int = 10,
        star_weight: float = 0.5,
        max_stars: int = MAX_STARS,
    ) -> StarredRanking:
        """Rank with an already encoded query (or none): one pass over the pool, no cache."""
        cfg = StarConfig(star_weight=star_weight, max_stars=max_stars)
        idx = star_indices(self.positions, stars, cfg.max_stars)
        if self.index is not None:
            none = np.empty(0)
            hits = None if query_vector is None else QueryHits(query_vector, none, none)
            return indexed_rank(self.index, self.matrix, hits, idx, k, cfg)
        return rerank(self.matrix, query_vector, idx, k, cfg)

    def search(
        self,
        query: str | None,
        stars: Sequence[str] = (),
        *,
        k: int = 10,
        star_weight: float = 0.5,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(row order, scores): starred candidates first, then the best of the rest."""
        # Stars are validated before the (possibly slow) query encoding.
        star_indices(self.positions, stars, StarConfig(star_weight=star_weight).max_stars)
        scores = None if query is None or not query.strip() else self.query_scores(query)[0]
        result = self.rank_scores(scores, stars, k=k, star_weight=star_weight)
        return result.order, result.scores

    def batch(self, queries: pd.DataFrame, k: int) -> Run:
        vectors = self.embedder.encode(queries["query"].tolist())
        ids = self.ids
        if self.index is not None:
            rows, scores = self.index.search(vectors, k)
            return {
                qid: [(ids[r], float(s)) for r, s in zip(rows[i], scores[i], strict=True) if r >= 0]
                for i, qid in enumerate(queries["query_id"])
            }
        scores = cosine_scores(self.matrix, vectors)
        return {qid: rank(ids, scores[i], k) for i, qid in enumerate(queries["query_id"])}

    def batch_matches(self, run: Run) -> dict[str, MatchReport]:
        """Per query of a `batch` run: whether its best candidate clears the floor."""
        floor = self.match_floor
        return {
            qid: report(np.array([items[0][1]] if items else []), floor)
            for qid, items in run.items()
        }

    def write_batch_run(
        self, queries: str | Path | pd.DataFrame, out: str | Path, *, top_k: int, tag: str
    ) -> int:
        if not isinstance(queries, pd.DataFrame):
            queries = read_queries(queries)
        write_run(out, self.batch(queries, top_k), tag=tag)
        return len(queries)
