"""Saying "no candidate matches" instead of listing candidates that do not.

A ranking always has a first place; for a query such as "zzqxj" it is an accident. Each
method has a floor at or under which the best score carries no evidence:

* lexical methods (sparse vectors, TF-IDF): a best score of 0 means no word or
  character n-gram of the query occurs in any title;
* dense methods (Sentence-BERT, word vectors): the pool's typical best similarity (the
  median over sampled titles of their best cosine to another, different title) times
  `ratio`. A query whose best candidate is far below what titles reach with each other
  matches nothing. A zero query vector (every word unknown) scores 0 everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from shortlister.embeddings.base import Matrix

# Chosen on the default dataset's VALIDATION queries by
# scripts/experiments/no_match_floor.py: per method, min(0.6, the lowest validation query's
# best/typical ratio minus 0.05, rounded down to a tenth), so every validation query keeps
# its best candidate above the floor. Measured minimum ratios: sbert 0.81, word2vec 0.67,
# fasttext 0.74, glove 0.43 (hence 0.3). Unmeasured methods take the default.
DEFAULT_DENSE_RATIO = 0.6
DENSE_RATIOS: dict[str, float] = {"glove": 0.3}
LEXICAL_FLOOR = 1e-6  # float noise above an exact 0
_SAMPLE_ROWS = 256
_SAMPLE_POOL = 20_000
_DUPLICATE = 0.9999  # a title's cosine to itself or an identical title


@dataclass(frozen=True)
class MatchReport:
    """Whether a query's best score clears its method's floor."""

    matched: bool
    best: float
    floor: float

    def notice(self, query: str, method: str) -> str:
        return (
            f"no candidate matches {query!r} with {method}: the best score is "
            f"{self.best:.4f}, at or below the method's floor {self.floor:.4f}; check the "
            "spelling, use other words, or try another method"
        )


def typical_best(matrix: Matrix, seed: int = 0) -> float:
    """Median over sampled rows of the best cosine to another, non-identical row."""
    n = matrix.shape[0]
    if n < 2:
        return 0.0
    rng = np.random.default_rng(seed)
    rows = rng.choice(n, size=min(n, _SAMPLE_ROWS), replace=False)
    pool = rng.choice(n, size=min(n, _SAMPLE_POOL), replace=False)
    sims = matrix[rows] @ matrix[pool].T
    sims = sims.toarray() if sp.issparse(sims) else np.asarray(sims)
    sims = np.where(sims >= _DUPLICATE, -np.inf, sims)
    best = sims.max(axis=1)
    best = best[np.isfinite(best)]
    return float(np.median(best)) if best.size else 0.0


def dense_ratio(method: str) -> float:
    return DENSE_RATIOS.get(method, DEFAULT_DENSE_RATIO)


def match_floor(matrix: Matrix, ratio: float = DEFAULT_DENSE_RATIO) -> float:
    """The score at or under which a query's best candidate does not match it."""
    if sp.issparse(matrix):
        return LEXICAL_FLOOR
    return max(LEXICAL_FLOOR, ratio * typical_best(matrix))


def report(scores: np.ndarray, floor: float) -> MatchReport:
    best = float(np.max(scores)) if len(scores) else 0.0
    return MatchReport(best > floor, best, floor)
