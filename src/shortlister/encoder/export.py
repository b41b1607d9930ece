"""ONNX (and dynamic int8) export of a Sentence-BERT encoder.

The exported graph is the whole encoder: transformer, mean pooling over the attention
mask and L2 normalisation, so ONNX Runtime returns the vectors the torch model would
(run by `shortlister.embeddings.onnx.OnnxEncoder`). Only onnx and onnxruntime are needed
(no optimum); int8 uses onnxruntime's dynamic quantisation of the weights (activations
stay float).
"""

from __future__ import annotations

import logging
from pathlib import Path

from shortlister.embeddings.onnx import INT8_FILE, ONNX_DIR, ONNX_FILE

logger = logging.getLogger(__name__)


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


def quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic int8 quantisation of an ONNX graph's weights (activations stay float)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)  # the quantiser logs one INFO line per tensor
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)


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
        quantize_int8(path, out_dir / INT8_FILE)
        paths["onnx_int8"] = str(out_dir / INT8_FILE)
    logger.info("ONNX export: %s", paths)
    return paths
