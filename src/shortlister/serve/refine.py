"""The top k that pass a request's filters, identical headlines folded: over a ranker's list.

`CandidatePool.rank_scores` (and the learned ranker's) blends the stars in and cuts the
top k; with filters or grouping the cut must come after them. An exact scan already
scored every row (`StarredRanking.scores` covers the pool), so the rows that pass are
selected from those scores with one more O(n) `top_k`; through an ANN index only the
rows a search returned carry a score, so the search is asked for more rows until k pass
(or the pool is exhausted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shortlister.ranking.cosine import top_k
from shortlister.ranking.starred import StarredRanking
from shortlister.serve.facets import PoolFacets

GROUP_HEADROOM = 2  # grouping: rows looked at per group wanted, at first
GROW = 4  # the depth's growth while too few rows pass


@dataclass
class Refined:
    """Starred rows first, then the best rows that pass (a group's best-ranked member)."""

    order: list[int]
    scores: Any  # score by row (an array or SparseScores), as StarredRanking.scores
    n_starred: int
    n_passing: int  # pool rows that pass the filters
    groups: dict[int, list[int]] = field(default_factory=dict)  # row -> the other members


def refine(
    ranker: Any,
    query_scores: Any,
    stars: Sequence[str],
    *,
    k: int,
    star_weight: float,
    max_stars: int,
    mask: np.ndarray | None,
    facets: PoolFacets,
    group: bool,
) -> Refined:
    """`ranker.rank_scores(...)`'s max(k, n_stars) rows, but of the rows that pass `mask`
    and, with `group`, one row per headline. Starred rows are pinned whatever the filters
    and never grouped."""

    def rank(depth: int) -> StarredRanking:
        return ranker.rank_scores(
            query_scores, stars, k=depth, star_weight=star_weight, max_stars=max_stars
        )

    result = rank(k)
    n = len(facets)
    n_passing = n if mask is None else int(mask.sum())
    if mask is None and not group:
        return Refined(result.order.tolist(), result.scores, result.n_starred, n_passing)
    starred = result.order[: result.n_starred]
    passing = np.ones(n, dtype=bool) if mask is None else mask.copy()
    passing[starred] = False
    want = max(k - result.n_starred, 0)
    keys = facets.group if group else None
    if isinstance(result.scores, np.ndarray) and len(result.scores) == n:
        rest = _from_scores(result.scores, passing, want, keys)
    else:
        result, rest = _from_searches(rank, result, passing, want, keys, k, n)
    groups = _groups(rest, result.scores, passing, facets) if group else {}
    order = [*starred.tolist(), *rest]
    return Refined(order, result.scores, result.n_starred, n_passing, groups)


def _from_scores(
    scores: np.ndarray, passing: np.ndarray, want: int, keys: np.ndarray | None
) -> list[int]:
    rows = np.flatnonzero(passing)
    sub = scores[rows]  # ties still break by pool row: `rows` is increasing
    depth = want if keys is None else max(GROUP_HEADROOM * want, 32)
    while True:
        best = _fold(rows[top_k(sub, depth)], keys, want)
        if len(best) >= want or depth >= len(rows):
            return best
        depth *= GROW


def _from_searches(
    rank: Any,
    result: StarredRanking,
    passing: np.ndarray,
    want: int,
    keys: np.ndarray | None,
    k: int,
    n: int,
) -> tuple[StarredRanking, list[int]]:
    depth = k
    while True:
        stream = [r for r in result.order[result.n_starred :].tolist() if passing[r]]
        best = _fold(np.asarray(stream, dtype=np.int64), keys, want)
        if len(best) >= want or len(result.order) < depth or depth >= n:
            return result, best
        depth = min(depth * GROW, n)
        result = rank(depth)


def _fold(rows: np.ndarray, keys: np.ndarray | None, want: int) -> list[int]:
    """The first `want` rows, skipping any whose headline key an earlier row had."""
    if want <= 0:
        return []
    if keys is None:
        return rows[:want].tolist()
    seen: set[int] = set()
    out: list[int] = []
    for row, key in zip(rows.tolist(), keys[rows].tolist(), strict=True):
        if key not in seen:
            seen.add(key)
            out.append(row)
            if len(out) == want:
                break
    return out


def _groups(
    rows: list[int], scores: Any, passing: np.ndarray, facets: PoolFacets
) -> dict[int, list[int]]:
    """Per shown row, the other passing rows with its headline, in rank order."""
    out: dict[int, list[int]] = {}
    for row in rows:
        members = facets.members(row)
        others = members[passing[members] & (members != row)]
        if len(others):
            s = _scores_of(scores, others)
            out[row] = others[np.lexsort((others, -s))].tolist()
    return out


def _scores_of(scores: Any, rows: np.ndarray) -> np.ndarray:
    """Scores of `rows`; -inf for a row a search did not return (ranked after the rest)."""
    if isinstance(scores, np.ndarray):
        return np.asarray(scores[rows], dtype=np.float64)
    out = np.full(len(rows), -np.inf)
    for j, row in enumerate(rows.tolist()):
        try:
            out[j] = float(scores[row])
        except KeyError:
            pass
    return out


def by_screening(order: list[int], n_starred: int, screening: np.ndarray) -> list[int]:
    """Stars first, then the rest by screening score (highest first; ties keep the match
    order; unscored last)."""
    rest = order[n_starred:]
    key = np.nan_to_num(-screening[rest], nan=np.inf) if rest else np.zeros(0)
    return order[:n_starred] + [rest[j] for j in np.argsort(key, kind="stable")]
