"""Scoring (role, headline) pairs with the trained cross-encoder, by torch or ONNX Runtime.

`CrossScorer.score(query, texts)` returns one relatedness in (0, 1) per text
(sigmoid of the logit). Pairs are scored longest first in batches, so a batch pads to
similar lengths; the order of the result is the order of `texts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shortlister.core.errors import ConfigError
from shortlister.cross.config import BACKENDS
from shortlister.cross.export import INPUTS
from shortlister.embeddings.onnx import INT8_FILE, ONNX_DIR, ONNX_FILE

MODEL_DIR = "cross-encoder"  # under paths.models
SERVING_FILE = "serving.json"  # the stage's choice of N and blend, read by the service


class CrossScorer:
    def __init__(
        self,
        model_dir: str | Path,
        backend: str = "onnx-int8",
        max_length: int = 48,
        batch_size: int = 256,
        threads: int = 0,
    ) -> None:
        if backend not in BACKENDS:
            raise ConfigError(f"cross-encoder backend must be one of {BACKENDS}, got {backend!r}")
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(
                f"{self.model_dir}: no trained cross-encoder here (run `dvc repro cross_encoder`)"
            )
        self.backend, self.max_length, self.batch_size = backend, max_length, batch_size
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
        if backend == "torch":
            import torch
            from transformers import AutoModelForSequenceClassification

            if threads:
                torch.set_num_threads(threads)
            self._torch = AutoModelForSequenceClassification.from_pretrained(
                str(self.model_dir)
            ).eval()
        else:
            import onnxruntime as ort

            path = self.model_dir / ONNX_DIR / (INT8_FILE if backend == "onnx-int8" else ONNX_FILE)
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no ONNX export (cross.export_int8, the stage)")
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            self._session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )

    def logits(self, query: str, texts: Sequence[str]) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty(len(texts), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = self.tokenizer(
                [query] * len(idx),
                [texts[i] for i in idx],
                padding=True,
                truncation=True,  # longest first: a long role is cut too
                max_length=self.max_length,
                return_tensors="np",
            )
            feeds = {
                n: batch.get(n, np.zeros_like(batch["input_ids"])).astype(np.int64) for n in INPUTS
            }
            out[idx] = self._run(feeds)
        return out

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        if self.backend == "torch":
            import torch

            with torch.inference_mode():
                tensors = {k: torch.from_numpy(v) for k, v in feeds.items()}
                return self._torch(**tensors).logits[:, 0].float().numpy()
        return self._session.run(None, feeds)[0].reshape(-1)

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """Relatedness in (0, 1) of each text to the query."""
        return 1.0 / (1.0 + np.exp(-self.logits(query, texts)))
