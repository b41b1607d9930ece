"""Cosine-similarity ranking over L2-normalised embeddings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from shortlister.embeddings.base import Matrix


def cosine_scores(candidates: Matrix, queries: Matrix) -> np.ndarray:
    """Scores of shape (n_queries, n_candidates); rows of both inputs are unit length."""
    scores = queries @ candidates.T
    if sp.issparse(scores):
        scores = scores.toarray()
    return np.asarray(scores, dtype=np.float32)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores, best first; ties broken by candidate order.

    argpartition keeps this O(n) for large pools; only the k winners are sorted.
    """
    n = scores.shape[0]
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k < n:
        part = np.argpartition(-scores, k - 1)[:k]
        # Candidates tied with the k-th score may be cut arbitrarily by argpartition;
        # take all of them and let the stable sort below decide by index.
        kth = scores[part].min()
        part = np.flatnonzero(scores >= kth)
    else:
        part = np.arange(n)
    order = np.lexsort((part, -scores[part]))
    return part[order][:k]


def rank(ids: Sequence[str], scores: np.ndarray, k: int) -> list[tuple[str, float]]:
    """(candidate_id, score) pairs for one query, best first."""
    idx = top_k(scores, k)
    return [(ids[i], float(scores[i])) for i in idx]
