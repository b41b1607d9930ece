"""Okapi BM25 over a candidate pool, as sparse matrix products.

The pool's term weights are computed once at fit time, so scoring a batch of queries
is one sparse product: ``score(q, d) = sum_t qtf(t) * idf(t) * tf(t, d) * (k1 + 1) /
(tf(t, d) + k1 * (1 - b + b * |d| / avgdl))`` with the non-negative Lucene idf
``log(1 + (N - df + 0.5) / (df + 0.5))``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from shortlister.core.errors import ConfigError

logger = logging.getLogger(__name__)

TOKEN_PATTERN = r"(?u)\b\w+\b"  # keeps one-letter words ("a", "3d"), as the tfidf method does
_TOKEN = re.compile(TOKEN_PATTERN)


def s_stem(word: str) -> str:
    """Harman's (1991) S-stemmer: plural to singular only ("managers" -> "manager").

    Occupation names are plural ("Financial Managers"), headlines and titles singular;
    a full stemmer would also conflate "nursing" with "nurse", which the labels do not.
    The default dataset's own helpers (`shortlister.data.default.queries._singular`,
    `...judgments._stem`) differ from it on occupation names and stay separate: the
    default queries and grades were made with them.
    """
    if len(word) <= 3:
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


@dataclass
class BM25Config:
    k1: float = 1.2  # term-frequency saturation
    b: float = 0.75  # length normalisation: 0 none, 1 full
    stem: bool = True  # fold plurals with `s_stem`

    def __post_init__(self) -> None:
        if self.k1 < 0:
            raise ConfigError(f"bm25.k1 must be >= 0, got {self.k1}")
        if not 0.0 <= self.b <= 1.0:
            raise ConfigError(f"bm25.b must be in [0, 1], got {self.b}")


class BM25:
    """BM25 scores of queries against the documents it was fitted on."""

    def __init__(self, config: BM25Config | None = None) -> None:
        self.config = config or BM25Config()
        self.vectorizer = CountVectorizer(analyzer=self.analyse, dtype=np.float32)
        self.idf: np.ndarray | None = None
        self.weights: sp.csr_matrix | None = None  # (n_docs, n_terms) saturated tf * idf

    def analyse(self, text: str) -> list[str]:
        """Lower-cased, accent-stripped word tokens, plural-folded when `stem` is on."""
        text = unicodedata.normalize("NFKD", text.lower())
        text = "".join(c for c in text if not unicodedata.combining(c))
        tokens = _TOKEN.findall(text)
        return [s_stem(t) for t in tokens] if self.config.stem else tokens

    def fit(self, documents: Sequence[str]) -> BM25:
        documents = list(documents)
        if not documents:
            raise ValueError("bm25: cannot fit on an empty candidate pool")
        try:
            tf = sp.csr_matrix(self.vectorizer.fit_transform(documents), dtype=np.float64)
        except ValueError:  # every document empty of words: score everything 0
            self.vectorizer.fit(["_"])
            tf = sp.csr_matrix((len(documents), 1), dtype=np.float64)
        n_docs = tf.shape[0]
        doc_len = np.asarray(tf.sum(axis=1)).ravel()
        avgdl = max(float(doc_len.mean()), 1e-9)
        df = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.float64)
        self.idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        k1, b = self.config.k1, self.config.b
        # Row-wise length norm K_d = k1 * (1 - b + b * |d| / avgdl), applied to stored entries only.
        norm = np.repeat(k1 * (1.0 - b + b * doc_len / avgdl), np.diff(tf.indptr))
        data = tf.data * (k1 + 1.0) / (tf.data + norm) * self.idf[tf.indices]
        self.weights = sp.csr_matrix((data, tf.indices, tf.indptr), shape=tf.shape)
        return self

    def _check_fitted(self) -> None:
        if self.weights is None:
            raise RuntimeError("bm25: fit() before scoring")

    def query_matrix(self, queries: Sequence[str]) -> sp.csr_matrix:
        """Query term counts (n_queries, n_terms); words unseen in the pool are dropped."""
        self._check_fitted()
        return sp.csr_matrix(self.vectorizer.transform(list(queries)), dtype=np.float64)

    def score(self, queries: Sequence[str]) -> np.ndarray:
        """BM25 scores, shape (n_queries, n_docs), float32."""
        q = self.query_matrix(queries)
        return sparse_times_dense(self.weights, q)

    def upper_bound(self, queries: Sequence[str]) -> np.ndarray:
        """The highest score any document could reach: sum of qtf * idf * (k1 + 1).

        Dividing by it gives a score in [0, 1] whose scale does not depend on the
        query's length or the pool's vocabulary, so it transfers across datasets.
        """
        q = self.query_matrix(queries)
        return np.asarray(q @ (self.idf * (self.config.k1 + 1.0)), dtype=np.float64).ravel()


def sparse_times_dense(pool: sp.spmatrix, queries: sp.spmatrix, chunk: int = 16) -> np.ndarray:
    """(n_queries, n_pool) = queries @ pool.T, as pool times dense query columns.

    O(nnz of the pool) per query and no copy of the pool; a chunk of queries at a time
    keeps the dense columns small, and one query or a batch add up in the same order.
    """
    out = np.empty((queries.shape[0], pool.shape[0]), dtype=np.float32)
    queries = sp.csr_matrix(queries)
    for start in range(0, queries.shape[0], chunk):
        block = queries[start : start + chunk].T.toarray()
        out[start : start + chunk] = np.asarray(pool @ block).T
    return out
