from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from shortlister.core.errors import ConfigError
from shortlister.ranking.bm25 import BM25, BM25Config, s_stem, sparse_times_dense

DOCS = ["Nurse Manager", "nurse nurse aide", "Data Analyst"]


def test_bm25_matches_a_hand_computation():
    k1, b = 1.2, 0.75
    bm25 = BM25(BM25Config(k1=k1, b=b)).fit(DOCS)
    scores = bm25.score(["nurse", "data nurse"])
    avgdl = (2 + 3 + 2) / 3
    idf_nurse = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))  # in 2 of 3 documents
    idf_data = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))

    def term(tf: int, dl: int, idf: float) -> float:
        return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))

    expected_nurse = [term(1, 2, idf_nurse), term(2, 3, idf_nurse), 0.0]
    np.testing.assert_allclose(scores[0], expected_nurse, rtol=1e-6)
    expected_both = [expected_nurse[0], expected_nurse[1], term(1, 2, idf_data)]
    np.testing.assert_allclose(scores[1], expected_both, rtol=1e-6)
    # The upper bound is what a document could reach at most: sum of idf * (k1 + 1).
    bound = bm25.upper_bound(["data nurse"])[0]
    assert bound == pytest.approx((idf_nurse + idf_data) * (k1 + 1))
    assert scores[1].max() < bound


def test_bm25_without_length_normalisation_and_unknown_words():
    bm25 = BM25(BM25Config(k1=1.2, b=0.0)).fit(DOCS)
    scores = bm25.score(["nurse", "astronaut"])
    # b = 0: document length does not matter, only the term frequency saturates.
    idf = math.log(1 + 1.5 / 2.5)
    assert scores[0, 0] == pytest.approx(idf * 2.2 / 2.2)
    assert scores[0, 1] == pytest.approx(idf * 2 * 2.2 / (2 + 1.2))
    assert not scores[1].any()  # a word the pool never uses scores nothing


def test_plurals_match_singulars_when_stemming():
    docs = ["Financial Manager", "Secretary", "Registered Nurse"]
    stemmed = BM25(BM25Config(stem=True)).fit(docs).score(["Financial Managers Secretaries"])
    plain = BM25(BM25Config(stem=False)).fit(docs).score(["Financial Managers Secretaries"])
    assert stemmed[0, 0] > plain[0, 0] > 0 and stemmed[0, 1] > 0 == plain[0, 1]


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("managers", "manager"),
        ("secretaries", "secretary"),
        ("nurses", "nurse"),
        ("business", "business"),
        ("status", "status"),
        ("gas", "gas"),
        ("analyst", "analyst"),
    ],
)
def test_s_stemmer(word, stem):
    assert s_stem(word) == stem


def test_config_is_validated():
    with pytest.raises(ConfigError, match="b must be"):
        BM25Config(b=1.5)
    with pytest.raises(ConfigError, match="k1"):
        BM25Config(k1=-1)


def test_sparse_times_dense_is_the_same_for_one_query_or_a_batch():
    rng = np.random.default_rng(0)
    pool = sp.random(50, 30, density=0.2, format="csr", random_state=1, dtype=np.float32)
    queries = sp.csr_matrix(rng.random((40, 30)) * (rng.random((40, 30)) < 0.3))
    batch = sparse_times_dense(pool, queries)
    np.testing.assert_allclose(batch, (queries @ pool.T).toarray(), rtol=1e-5)
    single = sparse_times_dense(pool, queries[17])
    np.testing.assert_array_equal(single[0], batch[17])
