from __future__ import annotations

import numpy as np
import pytest

from shortlister.embeddings.base import l2_normalise
from shortlister.ranking.cosine import rank, top_k
from shortlister.ranking.starred import (
    StarConfig,
    StarError,
    pin_starred,
    star_indices,
    starred_scores,
)


@pytest.mark.parametrize("k", [1, 3, 10, 50, 200])
def test_top_k_matches_a_full_stable_sort(k):
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 20, size=100).astype(np.float32)  # many ties on purpose
    expected = np.lexsort((np.arange(100), -scores))[:k]
    np.testing.assert_array_equal(top_k(scores, k), expected)


def test_top_k_edge_cases():
    assert top_k(np.array([0.1, 0.2], dtype=np.float32), 0).size == 0
    np.testing.assert_array_equal(top_k(np.array([0.5, 0.5, 0.9]), 2), [2, 0])


def test_rank_returns_ids_and_scores_best_first():
    out = rank(["a", "b", "c"], np.array([0.1, 0.9, 0.5], dtype=np.float32), 2)
    assert [cid for cid, _ in out] == ["b", "c"]
    assert out[0][1] == pytest.approx(0.9)


def test_star_indices_validates():
    ids = ["a", "b", "c", "d", "e", "f", "g"]
    assert star_indices(ids, ["c", "a"]) == [2, 0]
    with pytest.raises(StarError, match="unknown candidate id"):
        star_indices(ids, ["zz"])
    with pytest.raises(StarError, match="repeated: a"):
        star_indices(ids, ["a", "a"])
    with pytest.raises(StarError, match="at most 5"):
        star_indices(ids, ids[:6])


def _matrix():
    return l2_normalise(
        np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.9, 0.1], [0, 0, 1]], dtype=np.float32)
    )


def test_no_stars_is_the_query_alone_and_no_query_the_stars_alone():
    m = _matrix()
    q = l2_normalise(np.array([[1.0, 0, 0]], dtype=np.float32))
    cfg = StarConfig(star_weight=0.5)
    np.testing.assert_allclose(starred_scores(m, q, [], cfg), (m @ q.T).ravel(), atol=1e-6)
    stars_only = starred_scores(m, None, [2], cfg)
    np.testing.assert_allclose(stars_only, m @ m[2], atol=1e-6)
    with pytest.raises(StarError):
        starred_scores(m, None, [], cfg)


def test_starring_moves_similar_candidates_up_and_pins_stars():
    m = _matrix()
    q = l2_normalise(np.array([[1.0, 0, 0]], dtype=np.float32))
    cfg = StarConfig(star_weight=0.7)
    before = top_k(starred_scores(m, q, [], cfg), 5)
    after_scores = starred_scores(m, q, [2], cfg)
    after = pin_starred(top_k(after_scores, 5), [2])
    assert before[0] == 0 and after[0] == 2
    # candidate 3 resembles the star, so it rises above the query-only winners' rank
    assert list(after).index(3) < list(before).index(3)
    assert sorted(after) == list(range(5))


def test_star_weight_must_be_a_share():
    with pytest.raises(ValueError, match="star_weight"):
        StarConfig(star_weight=1.5)
