"""`sbert-tuned`: the title encoder fine-tuned by the train_encoder stage.

It is Sentence-BERT in every way (cache, batching, cosine ranking) except where the model
comes from: the stage's output folder (`models/title-encoder` by default), run either by
torch or, with `backend: onnx` / `onnx-int8`, by ONNX Runtime from the folder's export.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shortlister.core.cache import cache_key, folder_digest, versions
from shortlister.core.errors import ConfigError
from shortlister.embeddings.base import register
from shortlister.embeddings.onnx import ONNX_DIR
from shortlister.embeddings.sbert import (
    NOT_WEIGHTS,
    RUNTIME,
    SbertConfig,
    SbertEmbedder,
    resolved_device,
)

logger = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "onnx-int8")
WEIGHTS = ("model.safetensors", "pytorch_model.bin")


@dataclass
class TunedConfig(SbertConfig):
    model: str = "models/title-encoder"  # the train_encoder stage's output folder
    backend: str = "torch"  # torch | onnx | onnx-int8 (needs the stage's ONNX export)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.backend not in BACKENDS:
            raise ConfigError(
                f"sbert-tuned: backend must be one of {BACKENDS}, got {self.backend!r}"
            )


@register("sbert-tuned")
class TunedEmbedder(SbertEmbedder):
    config_class = TunedConfig

    def __init__(self, config: TunedConfig) -> None:
        super().__init__(config)
        self._onnx = None

    def _model_dir(self) -> Path:
        path = Path(self.config.model).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(
                f"{path}: no tuned title encoder here (run `python -m "
                "shortlister.stages.train_encoder` or `dvc repro train_encoder` first)"
            )
        return path

    @property
    def model(self):
        self._model_dir()
        return super().model

    @property
    def onnx(self):
        if self._onnx is None:
            from shortlister.embeddings.onnx import OnnxEncoder

            self._onnx = OnnxEncoder(
                self._model_dir(),
                int8=self.config.backend == "onnx-int8",
                max_seq_length=self.config.max_seq_length,
            )
        return self._onnx

    def fit(self, texts) -> TunedEmbedder:
        _ = self.onnx if self.config.backend != "torch" else self.model
        return self

    def _cache_ident(self) -> str:
        # Retraining rewrites the same folder: its files' digest keys the cache (the ONNX
        # export's too when a backend runs it), with the settings and library versions.
        directory = self._model_dir()
        if not any((directory / name).is_file() for name in WEIGHTS):
            raise FileNotFoundError(f"{directory}: no model weights ({' or '.join(WEIGHTS)})")
        torch_backend = self.config.backend == "torch"
        skip = NOT_WEIGHTS if torch_backend else tuple(n for n in NOT_WEIGHTS if n != ONNX_DIR)
        return cache_key(
            {
                "folder": folder_digest(directory, skip=skip),
                "max_seq_length": self.config.max_seq_length,
                "backend": self.config.backend,
                "device": resolved_device(self.config.device) if torch_backend else "onnxruntime",
                "versions": versions((*RUNTIME, "onnxruntime")),
            }
        )

    def _encode_model(self, texts: list[str]) -> np.ndarray:
        if self.config.backend == "torch":
            return super()._encode_model(texts)
        return self.onnx.encode(texts, batch_size=self.config.batch_size)

    @property
    def dimension(self) -> int:
        if self.config.backend != "torch":
            return self.onnx.dimension
        return super().dimension
