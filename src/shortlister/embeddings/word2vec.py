"""word2vec (skip-gram, gensim) trained on the title corpus, pooled with SIF weights."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shortlister.core.checks import check_int
from shortlister.core.errors import ConfigError
from shortlister.embeddings.base import register
from shortlister.embeddings.wordvec import WordVectorConfig, WordVectorEmbedder

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

logger = logging.getLogger(__name__)


@dataclass
class Word2VecConfig(WordVectorConfig):
    vector_size: int = 100
    window: int = 5
    min_count: int = 1  # titles are short and the corpus small; keep every word
    epochs: int = 30  # many passes: the corpus is only ~10^5 tokens
    sg: int = 1  # skip-gram; better than CBOW for rare words
    seed: int = 13
    workers: int = 1  # more threads are faster but make training non-deterministic

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        for knob in ("vector_size", "window", "min_count", "epochs", "workers"):
            check_int(f"{name}.{knob}", getattr(self, knob), minimum=1)
        check_int(f"{name}.seed", self.seed, minimum=0)
        if self.sg not in (0, 1) or isinstance(self.sg, bool):
            raise ConfigError(f"{name}.sg must be 1 (skip-gram) or 0 (CBOW), got {self.sg!r}")
        if self.workers > 1:
            logger.warning("%s.workers=%d: training will not be reproducible", name, self.workers)

    def gensim_kwargs(self) -> dict[str, Any]:
        return {
            "vector_size": self.vector_size,
            "window": self.window,
            "min_count": self.min_count,
            "epochs": self.epochs,
            "sg": self.sg,
            "seed": self.seed,
            "workers": self.workers,
        }


@register("word2vec")
class Word2VecEmbedder(WordVectorEmbedder):
    config_class = Word2VecConfig

    def train_vectors(self, corpus_tokens: list[list[str]]) -> KeyedVectors:
        from gensim.models import Word2Vec

        model = Word2Vec(sentences=corpus_tokens, **self.config.gensim_kwargs())
        return model.wv
