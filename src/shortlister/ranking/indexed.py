"""Ranking a large pool through its ANN index, stars included.

The blended score ``(1-w) q.x + w s.x`` is ``((1-w) q + w s).x``: a query with stars is
one index search with the blended vector (`starred.blend_vector`). Starred rows are
pinned first with their exact blended score; the index's other hits follow. Only the
rows a search returned carry a score (`SparseScores`), so no pass over the pool is made.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shortlister.embeddings.base import Embedder
from shortlister.index.ann import AnnIndex
from shortlister.index.config import IndexConfig
from shortlister.ranking.starred import StarConfig, StarredRanking, blend_vector

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueryHits:
    """What the indexed path keeps of a query: its vector and its own best rows."""

    vector: np.ndarray  # (d,) float32
    rows: np.ndarray  # best first
    scores: np.ndarray

    @property
    def nbytes(self) -> int:  # what the score cache counts
        return int(
            self.vector.nbytes + np.asarray(self.rows).nbytes + np.asarray(self.scores).nbytes
        )

    @property
    def best(self) -> float:
        return float(self.scores[0]) if len(self.scores) else 0.0


class SparseScores:
    """Scores of the rows a search returned, indexed like the dense per-row array."""

    def __init__(self, n: int, rows: np.ndarray, scores: np.ndarray) -> None:
        self.n = n
        self._by_row = dict(
            zip(np.asarray(rows).tolist(), np.asarray(scores).tolist(), strict=True)
        )

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, rows: Any) -> Any:
        if np.ndim(rows) == 0:
            return np.float32(self._by_row[int(rows)])
        return np.array([self._by_row[int(r)] for r in np.asarray(rows)], dtype=np.float32)


def query_hits(index: AnnIndex, vector: np.ndarray, depth: int) -> QueryHits:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    rows, scores = index.search(vector, depth)
    keep = rows[0] >= 0
    return QueryHits(vector, rows[0][keep], scores[0][keep])


def indexed_rank(
    index: AnnIndex,
    matrix: np.ndarray,
    hits: QueryHits | None,
    star_idx: Sequence[int],
    k: int,
    cfg: StarConfig,
) -> StarredRanking:
    """Starred rows first (in star order), then the index's best of the rest.

    No stars: the query's own hits when they are deep enough (no second search).
    """
    star_idx = list(star_idx)
    n_rest = max(k - len(star_idx), 0) if star_idx else k
    if not star_idx and hits is not None and len(hits.rows) >= min(k, index.n):
        rows, scores = hits.rows[:k], hits.scores[:k]
        return StarredRanking(rows, SparseScores(index.n, rows, scores), 0)
    vector = blend_vector(matrix, None if hits is None else hits.vector, star_idx, cfg)
    rows, scores = index.search(vector, n_rest + len(star_idx))
    rows, scores = rows[0], scores[0]
    rest = (rows >= 0) & ~np.isin(rows, star_idx)
    rows, scores = rows[rest][:n_rest], scores[rest][:n_rest]
    starred = np.asarray(star_idx, dtype=np.int64)
    star_scores = np.asarray(matrix[starred] @ vector, dtype=np.float32).reshape(-1)
    order = np.concatenate([starred, rows])
    all_scores = np.concatenate([star_scores, scores])
    return StarredRanking(order, SparseScores(index.n, order, all_scores), len(starred))


def embedder_hash(embedder: Embedder) -> str:
    """Identity of the model behind a pool's vectors (name, config, weights when known)."""
    config = getattr(embedder, "config", None)
    meta = {"name": embedder.name, "config": asdict(config) if config is not None else {}}
    meta["config"].pop("cache_dir", None)  # where vectors are cached does not change them
    meta["config"].pop("progress_min", None)
    ident = getattr(embedder, "_cache_ident", None)
    if callable(ident):
        meta["ident"] = ident()
    return hashlib.sha1(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()


def index_for(
    matrix: Any,
    embedder: Embedder,
    cfg: IndexConfig,
    directory: str | Path | None = None,
) -> AnnIndex | None:
    """The index a pool of this size is searched through, or None (exact scan).

    Below `cfg.min_pool` rows, or for sparse (lexical) vectors: None. Above it, the index
    stored in `directory` (refused with IndexMismatch when built from other embeddings or
    another model), else one built now, which takes minutes for millions of rows.
    """
    if not isinstance(matrix, np.ndarray) or matrix.shape[0] < cfg.min_pool:
        return None
    model_hash = embedder_hash(embedder)
    if directory is not None and (Path(directory) / "index.json").is_file():
        index = AnnIndex.load(directory, matrix, model_hash, cfg)
        logger.info("%s: %s index of %d rows loaded", directory, index.name, index.n)
        return index
    logger.warning(
        "no stored index for this pool of %d rows%s; building a %s index now (minutes for "
        "millions of rows; `dvc repro index@<method>` stores one)",
        matrix.shape[0],
        f" in {directory}" if directory is not None else "",
        cfg.backend,
    )
    return AnnIndex.build(matrix, cfg, model_hash)
