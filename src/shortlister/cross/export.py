"""ONNX (and dynamic int8) export of the cross-encoder: (input_ids, mask, types) -> logit.

Written to `<model_dir>/onnx/model.onnx` and `model_int8.onnx` (weights int8, activations
float: onnxruntime's dynamic quantisation), run by `shortlister.cross.scorer`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from shortlister.embeddings.onnx import INT8_FILE, ONNX_DIR, ONNX_FILE
from shortlister.encoder.export import quantize_int8

logger = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_cross_onnx(model_dir: str | Path, int8: bool = True) -> dict[str, str]:
    """Export the saved CrossEncoder in `model_dir`; returns the written paths."""
    import torch
    from torch import nn
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model_dir = Path(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))

    class Logit(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).logits[:, 0]

    tokens = tokenizer(
        ["human resources specialist", "a"],
        ["Aspiring HR Professional | people first", "b"],
        padding=True,
        return_tensors="pt",
    )
    out_dir = model_dir / ONNX_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ONNX_FILE
    with torch.no_grad():
        torch.onnx.export(
            Logit().eval(),
            tuple(tokens[n] for n in INPUTS),
            str(path),
            input_names=list(INPUTS),
            output_names=["logit"],
            dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in INPUTS}, "logit": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    paths = {"onnx": str(path)}
    if int8:
        quantize_int8(path, out_dir / INT8_FILE)
        paths["onnx_int8"] = str(out_dir / INT8_FILE)
    logger.info("cross-encoder ONNX export: %s", paths)
    return paths
