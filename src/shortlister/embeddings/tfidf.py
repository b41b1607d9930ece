"""TF-IDF over word and character n-grams: strong on exact and misspelt words."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from shortlister.core.checks import check_int, check_number
from shortlister.embeddings.base import Embedder, Matrix, l2_normalise, register

logger = logging.getLogger(__name__)


@dataclass
class TfidfConfig:
    word_ngram_max: int = 2
    char_ngram_min: int = 3
    char_ngram_max: int = 5
    char_weight: float = 0.5  # share of the cosine that comes from character n-grams
    min_df: int = 1
    sublinear_tf: bool = True

    def __post_init__(self) -> None:
        check_number("tfidf.char_weight", self.char_weight, low=0.0, high=1.0)
        check_int("tfidf.char_ngram_min", self.char_ngram_min, minimum=1)
        check_int("tfidf.char_ngram_max", self.char_ngram_max, minimum=self.char_ngram_min)
        check_int("tfidf.word_ngram_max", self.word_ngram_max, minimum=1)
        check_int("tfidf.min_df", self.min_df, minimum=1)


@register("tfidf")
class TfidfEmbedder(Embedder):
    config_class = TfidfConfig

    def __init__(self, config: TfidfConfig) -> None:
        super().__init__(config)
        common = dict(
            lowercase=True,
            strip_accents="unicode",
            sublinear_tf=config.sublinear_tf,
            min_df=config.min_df,
            dtype=np.float32,
        )
        self.word = TfidfVectorizer(
            analyzer="word",
            ngram_range=(1, config.word_ngram_max),
            token_pattern=r"(?u)\b\w+\b",
            **common,
        )
        self.char = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(config.char_ngram_min, config.char_ngram_max), **common
        )
        self._fitted = False

    def fit(self, texts: Sequence[str]) -> TfidfEmbedder:
        texts = list(texts)
        if not texts:
            raise ValueError("tfidf: cannot fit on an empty candidate pool")
        self.word.fit(texts)
        self.char.fit(texts)
        self._fitted = True
        logger.info(
            "tfidf fitted: %d word and %d char features",
            len(self.word.vocabulary_),
            len(self.char.vocabulary_),
        )
        return self

    def encode(self, texts: Sequence[str]) -> Matrix:
        if not self._fitted:
            raise RuntimeError("tfidf: fit() or load the embedder before encode()")
        texts = list(texts)
        w = self.config.char_weight
        # sqrt weights make the dot product of two rows equal
        # (1-w) * cos_word + w * cos_char.
        word = l2_normalise(self.word.transform(texts)) * np.float32(np.sqrt(1.0 - w))
        char = l2_normalise(self.char.transform(texts)) * np.float32(np.sqrt(w))
        return l2_normalise(sp.hstack([word, char], format="csr"))

    def _save_state(self, directory: Path) -> None:
        joblib.dump({"word": self.word, "char": self.char}, directory / "vectorizers.joblib")

    def _load_state(self, directory: Path) -> None:
        state = joblib.load(directory / "vectorizers.joblib")
        self.word, self.char = state["word"], state["char"]
        self._fitted = True
