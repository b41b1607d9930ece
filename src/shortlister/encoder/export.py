"""ONNX (and dynamic int8) export of a Sentence-BERT encoder, and an encoder that runs it.

The exported graph is the whole encoder: transformer, mean pooling over the attention
mask and L2 normalisation, so ONNX Runtime returns the vectors the torch model would.
Only onnx and onnxruntime are needed (no optimum); int8 uses onnxruntime's dynamic
quantisation of the weights (activations stay float).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
ONNX_DIR = "onnx"


def _pooled_module(model):
    """A torch module (input_ids, attention_mask, token_type_ids) -> unit vectors."""
    import torch
    from torch import nn

    pooling = next((m for m in model if type(m).__name__ == "Pooling"), None)
    mode = getattr(pooling, "pooling_mode", None)
    if mode not in ("mean", ["mean"], ("mean",)):
        raise ValueError(f"ONNX export supports mean pooling only, this model pools by {mode!r}")
    bert = model[0].auto_model

    class MeanPooled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(summed, p=2.0, dim=1)

    return MeanPooled().eval()


def export_onnx(model_dir: str | Path, int8: bool = True) -> dict[str, str]:
    """Write `<model_dir>/onnx/model.onnx` (and `model_int8.onnx`); returns their paths."""
    import torch
    from sentence_transformers import SentenceTransformer

    model_dir = Path(model_dir)
    model = SentenceTransformer(str(model_dir), device="cpu")
    module = _pooled_module(model)
    tokens = model.tokenizer(["personnel recruiter", "a"], padding=True, return_tensors="pt")
    out_dir = model_dir / ONNX_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ONNX_FILE
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.no_grad():
        torch.onnx.export(
            module,
            tuple(tokens[n] for n in names),
            str(path),
            input_names=names,
            output_names=["embedding"],
            dynamic_axes={
                **{n: {0: "batch", 1: "tokens"} for n in names},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,  # the TorchScript exporter needs no onnxscript
        )
    paths = {"onnx": str(path)}
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.WARNING)  # the quantiser logs one INFO line per tensor
        try:
            quantize_dynamic(str(path), str(out_dir / INT8_FILE), weight_type=QuantType.QInt8)
        finally:
            root.setLevel(level)
        paths["onnx_int8"] = str(out_dir / INT8_FILE)
    logger.info("ONNX export: %s", paths)
    return paths


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

    def encode(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        # Longest first, as SentenceTransformer.encode does: batches pad to similar lengths.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        texts = [texts[i] for i in order]
        out = []
        for start in range(0, len(texts), batch_size):
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
