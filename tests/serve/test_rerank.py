"""The library's re-ranking as the service uses it (ranking/starred.py, ranking/ranker.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from shortlister.core.errors import DataError
from shortlister.embeddings.base import l2_normalise
from shortlister.ranking.cosine import cosine_scores, top_k
from shortlister.ranking.pool import CandidatePool
from shortlister.ranking.starred import (
    StarConfig,
    StarError,
    blend_vector,
    rerank,
    star_indices,
    starred_scores,
)


def _pool(n=300, d=16, seed=0):
    rng = np.random.default_rng(seed)
    return l2_normalise(rng.standard_normal((n, d)).astype(np.float32)), l2_normalise(
        rng.standard_normal((1, d)).astype(np.float32)
    )


@pytest.mark.parametrize("sparse", [False, True])
def test_one_blended_vector_equals_the_two_similarity_blend(sparse):
    m, q = _pool()
    if sparse:
        m, q = sp.csr_matrix(m), sp.csr_matrix(q)
    stars, w = [5, 17, 40], 0.3
    dense = m.toarray() if sparse else m
    centroid = l2_normalise(dense[stars].mean(axis=0, keepdims=True))
    expected = (1 - w) * cosine_scores(m, q)[0] + w * cosine_scores(dense, centroid)[0]
    got = starred_scores(m, q, stars, StarConfig(star_weight=w))
    assert got.dtype == np.float32 and got.shape == (300,)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert blend_vector(m, q, [], StarConfig()).shape == (16,)


def test_rerank_pins_flags_and_returns_k_rows():
    m, q = _pool()
    result = rerank(m, q, [7, 3], 10, StarConfig(star_weight=0.5))
    assert list(result.order[:2]) == [7, 3] and len(result.order) == 10
    assert list(result.starred) == [True, True] + [False] * 8
    rest = [i for i in top_k(result.scores, 12) if i not in (7, 3)][:8]
    assert list(result.order[2:]) == rest
    # more stars than k: every star is still returned
    assert len(rerank(m, q, [1, 2, 3], 2, StarConfig()).order) == 3


def test_star_indices_takes_a_prebuilt_mapping():
    positions = {"a": 0, "b": 1}
    assert star_indices(positions, ["b"]) == [1]
    with pytest.raises(StarError, match="unknown"):
        star_indices(positions, ["z"])


class _CountingEmbedder:
    def __init__(self):
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        return np.ones((len(texts), 4), dtype=np.float32) / 2


def test_query_vectors_are_cached_in_a_small_lru():
    pool = pd.DataFrame({"id": list("abcd"), "title": ["t"] * 4})
    embedder = _CountingEmbedder()
    ranker = CandidatePool(pool, embedder, np.eye(4, dtype=np.float32), query_cache_size=2)
    assert ranker.encode_query("x")[1] is False
    assert ranker.encode_query("x")[1] is True and embedder.calls == 1
    ranker.encode_query("y")
    ranker.encode_query("z")  # evicts x, the least recently used
    assert ranker.encode_query("x")[1] is False and embedder.calls == 4
    order, _ = ranker.search("x", ["c"], k=2)
    assert list(order)[0] == 2
    uncached = CandidatePool(pool, _CountingEmbedder(), np.eye(4, dtype=np.float32))
    uncached.encode_query("x")
    assert uncached.encode_query("x")[1] is False


def test_rows_must_match_the_pool(tmp_path):
    pool = pd.DataFrame({"id": list("abc"), "title": ["t"] * 3})
    with pytest.raises(DataError, match="3 candidates"):
        CandidatePool(pool, _CountingEmbedder(), np.eye(4, dtype=np.float32))
    (tmp_path / "e.ids.txt").write_text("a\nc\nb\n")
    with pytest.raises(DataError, match="reordered"):
        CandidatePool.from_stored(pool, tmp_path / "model", tmp_path / "e")


@pytest.mark.parametrize("sparse", [False, True])
def test_cached_score_path_matches_the_one_pass_path(sparse):
    m, q = _pool()
    if sparse:
        m, q = sp.csr_matrix(m), sp.csr_matrix(q)
    pool = pd.DataFrame({"id": [f"c{i}" for i in range(300)], "title": "t"})
    ranker = CandidatePool(pool, _CountingEmbedder(), m, score_cache_bytes=1 << 20)
    query_scores = cosine_scores(m, q)[0]
    for stars in ([], ["c5"], ["c5", "c17", "c40"], ["c17"]):
        for w in (0.0, 0.4, 1.0):
            fresh = ranker.rerank(q, stars, k=12, star_weight=w)
            cached = ranker.rank_scores(query_scores, stars, k=12, star_weight=w)
            np.testing.assert_allclose(cached.scores, fresh.scores, atol=1e-5)
            assert cached.n_starred == fresh.n_starred == len(stars)
    stars_only = ranker.rank_scores(None, ["c5", "c17"], k=5)
    np.testing.assert_allclose(
        stars_only.scores, ranker.rerank(None, ["c5", "c17"], k=5).scores, atol=1e-5
    )
