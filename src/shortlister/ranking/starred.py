"""Starred re-ranking: the starred candidates' mean embedding steers the ranking.

The blended score ``(1-w)·cos(c, q) + w·cos(c, s)`` (``s``: the normalised mean of the
starred rows) is linear in the candidate vector ``c``, so it equals ``c · ((1-w)·q + w·s)``:
one matrix-vector product over the pool per re-rank, whatever the number of stars.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from shortlister.core.errors import ConfigError, ShortlisterError
from shortlister.embeddings.base import Matrix, l2_normalise
from shortlister.ranking.cosine import top_k

MAX_STARS = 5


class StarError(ShortlisterError, ValueError):
    """Invalid starred ids: unknown, duplicated or too many."""


@dataclass
class StarConfig:
    star_weight: float = 0.5  # share of the score from similarity to the starred mean
    max_stars: int = MAX_STARS

    def __post_init__(self) -> None:
        if isinstance(self.star_weight, bool) or not isinstance(self.star_weight, numbers.Real):
            raise ConfigError(f"star_weight must be a number in [0, 1], got {self.star_weight!r}")
        if not 0.0 <= self.star_weight <= 1.0:
            raise ConfigError(f"star_weight must be in [0, 1], got {self.star_weight}")
        if self.max_stars < 1:
            raise ConfigError("max_stars must be >= 1")


@dataclass(frozen=True)
class StarredRanking:
    """One re-ranked result list: starred rows pinned first, then the best of the rest."""

    order: np.ndarray  # row positions in the pool, best first
    scores: np.ndarray  # blended score of every pool row (index with `order`)
    n_starred: int  # the first n_starred entries of `order` are the starred rows

    @property
    def starred(self) -> np.ndarray:
        """One flag per entry of `order`: True for a starred (pinned) candidate."""
        return np.arange(len(self.order)) < self.n_starred


def star_indices(
    ids: Sequence[str] | Mapping[str, int], stars: Sequence[str], max_stars: int = MAX_STARS
) -> list[int]:
    """Positions of the starred ids, validated.

    `ids` is the pool's id list, or an id -> position mapping (pass one built once when
    re-ranking a large pool often: building it costs a pass over every id).
    """
    stars = [str(s) for s in stars]
    if len(stars) > max_stars:
        raise StarError(f"at most {max_stars} starred candidates are allowed, got {len(stars)}")
    dupes = sorted({s for s in stars if stars.count(s) > 1})
    if dupes:
        raise StarError(f"starred ids must be distinct; repeated: {', '.join(dupes)}")
    position = ids if isinstance(ids, Mapping) else {cid: i for i, cid in enumerate(ids)}
    unknown = [s for s in stars if s not in position]
    if unknown:
        raise StarError(f"unknown candidate id(s) starred: {', '.join(unknown)}")
    return [position[s] for s in stars]


def _dense_row(vector: Matrix) -> np.ndarray:
    """A (1, d) or (d,) vector, sparse or dense, as a flat float32 array."""
    if sp.issparse(vector):
        vector = vector.toarray()
    return np.asarray(vector, dtype=np.float32).reshape(-1)


def blend_vector(
    candidates: Matrix,
    query_vector: Matrix | None,
    star_idx: Sequence[int],
    cfg: StarConfig,
) -> np.ndarray:
    """The one vector whose dot product with each candidate is its blended score.

    No query: stars alone. No stars: query alone.
    """
    if query_vector is None and not star_idx:
        raise StarError("give a query, starred candidates, or both")
    if not star_idx:
        return _dense_row(query_vector)
    rows = candidates[list(star_idx)]
    centroid = l2_normalise(_dense_row(rows.mean(axis=0)).reshape(1, -1))[0]
    if query_vector is None:
        return centroid
    w = np.float32(cfg.star_weight)
    return (np.float32(1.0) - w) * _dense_row(query_vector) + w * centroid


def scores_for(candidates: Matrix, vector: np.ndarray) -> np.ndarray:
    """Dot product of every candidate row with `vector`: a float32 matrix-vector product.

    Dense pools use einsum, not BLAS: the product is memory-bound, and on a small machine
    multi-threaded BLAS gemv was slower (100k x 384: 16 ms vs 11 ms p50 on 2 cores) and
    its spinning threads slowed whatever ran next.
    """
    if sp.issparse(candidates):
        scores = candidates @ vector
    else:
        scores = np.einsum("ij,j->i", candidates, vector)
    return np.asarray(scores, dtype=np.float32).reshape(-1)


def star_similarity(candidates: Matrix, row: int) -> np.ndarray:
    """Every candidate's dot product with one candidate's row (cacheable per star)."""
    return scores_for(candidates, _dense_row(candidates[row]))


def star_sum_norm(candidates: Matrix, star_idx: Sequence[int]) -> float:
    """Length of the sum of the starred rows: it normalises their centroid."""
    return float(np.linalg.norm(_dense_row(candidates[list(star_idx)].sum(axis=0))))


def blend_scores(
    query_scores: np.ndarray | None,
    star_sims: Sequence[np.ndarray],
    sum_norm: float,
    cfg: StarConfig,
) -> np.ndarray:
    """`starred_scores` from cached parts: the query's scores and each star's similarities.

    The centroid is (sum of starred rows) / sum_norm, so its similarities are the sum of
    the stars' similarities / sum_norm: no pass over the pool's vectors at all.
    """
    if query_scores is None and not star_sims:
        raise StarError("give a query, starred candidates, or both")
    if not star_sims:
        return query_scores
    out = np.array(star_sims[0], dtype=np.float32)  # a copy: cached arrays stay untouched
    for sims in star_sims[1:]:
        out += sims
    w = cfg.star_weight if query_scores is not None else 1.0
    out *= np.float32(w / sum_norm) if sum_norm > 0 else np.float32(0.0)
    if query_scores is not None:
        out += np.float32(1.0 - cfg.star_weight) * query_scores
    return out


def starred_scores(
    candidates: Matrix,
    query_vector: Matrix | None,
    star_idx: Sequence[int],
    cfg: StarConfig,
) -> np.ndarray:
    """Blend query similarity with similarity to the starred candidates' mean.

    No query: stars alone. No stars: query alone. Starred candidates are pinned by the
    caller (`pin_starred`), so their own score stays honest.
    """
    return scores_for(candidates, blend_vector(candidates, query_vector, star_idx, cfg))


def pin_starred(order: np.ndarray, star_idx: Sequence[int]) -> np.ndarray:
    """Move starred positions to the front (in star order); the rest keep their order."""
    starred = list(star_idx)
    rest = order[~np.isin(order, starred)]
    return np.concatenate([np.asarray(starred, dtype=np.int64), rest])


def rerank(
    candidates: Matrix,
    query_vector: Matrix | None,
    star_idx: Sequence[int],
    k: int,
    cfg: StarConfig,
) -> StarredRanking:
    """The k best rows, starred ones pinned first (in star order); all stars if more than k.

    Only the top k + n_stars rows are selected and sorted (argpartition), so the cost
    is one matrix-vector product plus O(n): no full sort of the pool.
    """
    return select(starred_scores(candidates, query_vector, star_idx, cfg), star_idx, k)


def select(scores: np.ndarray, star_idx: Sequence[int], k: int) -> StarredRanking:
    """Starred rows first (in star order), then the best of the rest: max(k, n_stars) rows."""
    star_idx = list(star_idx)
    order = pin_starred(top_k(scores, k + len(star_idx)), star_idx)
    return StarredRanking(order[: max(k, len(star_idx))], scores, len(star_idx))
