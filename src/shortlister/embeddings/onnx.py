"""Running an exported encoder with ONNX Runtime (method sbert-tuned, `backend: onnx`).

The graph is the whole encoder (transformer, mean pooling over the attention mask, L2
normalisation), written by `shortlister.encoder.export.export_onnx` to
``<model_dir>/onnx/``; only onnxruntime and the model's tokenizer are needed to run it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shortlister.core.progress import progress

ONNX_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
ONNX_DIR = "onnx"
PROGRESS_MIN = 2000  # a bar for at least this many texts, as Sentence-BERT's progress_min


class OnnxEncoder:
    """Tokenizer + ONNX Runtime session; `encode` returns L2-normalised float32 rows."""

    def __init__(
        self, model_dir: str | Path, int8: bool = False, max_seq_length: int = 64, threads: int = 0
    ) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        model_dir = Path(model_dir)
        path = model_dir / ONNX_DIR / (INT8_FILE if int8 else ONNX_FILE)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no ONNX export here (set encoder.export.onnx: true and run the "
                "train_encoder stage, or call shortlister.encoder.export.export_onnx)"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.max_seq_length = max_seq_length
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def encode(
        self, texts: Sequence[str], batch_size: int = 128, show_progress: bool | None = None
    ) -> np.ndarray:
        """`show_progress`: a bar of batches; None: when there are `PROGRESS_MIN` texts or more."""
        # Longest first, as SentenceTransformer.encode does: batches pad to similar lengths.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        texts = [texts[i] for i in order]
        out = []
        starts = range(0, len(texts), batch_size)
        show = len(texts) >= PROGRESS_MIN if show_progress is None else show_progress
        for start in progress(starts, desc="encode (onnx)", unit="batch", enabled=show):
            batch = self.tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=self.max_seq_length,
                return_tensors="np",
            )
            feeds = {
                "input_ids": batch["input_ids"].astype(np.int64),
                "attention_mask": batch["attention_mask"].astype(np.int64),
                "token_type_ids": batch.get(
                    "token_type_ids", np.zeros_like(batch["input_ids"])
                ).astype(np.int64),
            }
            out.append(self.session.run(None, feeds)[0])
        if not out:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        vectors[order] = np.vstack(out)
        return vectors
