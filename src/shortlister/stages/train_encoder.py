"""Stage: fine-tune the title encoder on title pairs (method `sbert-tuned`).

python -m shortlister.stages.train_encoder

Builds synonym and graded pairs from the configured sources with every evaluation title
removed (reports/encoder/pairs.json), trains (reports/encoder/train.json), writes the model
to <paths.models>/title-encoder and, when configured, its ONNX / int8 export beside it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from shortlister.encoder.exclusions import evaluation_exclusions
from shortlister.encoder.pairs import PairConfig, build_pairs
from shortlister.encoder.titles import PairSources
from shortlister.encoder.train import TrainConfig, train_encoder
from shortlister.stages.common import start, tracked, write_json
from shortlister.stages.tracking import log_artifact, log_metrics

logger = logging.getLogger(__name__)

MODEL_DIR = "title-encoder"  # not models/sbert-tuned: that is embed@sbert-tuned's output


def configs(params: dict[str, Any]) -> tuple[PairSources, PairConfig, TrainConfig, dict]:
    enc = params["encoder"]
    seed = int(enc.get("seed", params.get("seed", 13)))
    return (
        PairSources.from_config(enc["sources"]),
        PairConfig.from_config({**enc["pairs"], "seed": seed}),
        TrainConfig.from_config({**enc["train"], "seed": seed}),
        dict(enc.get("export", {})),
    )


def run(params: dict[str, Any]) -> dict[str, Any]:
    """Pairs, training, export; returns the report (pairs.json + train.json)."""
    sources, pair_cfg, train_cfg, export = configs(params)
    model_dir = Path(params["paths"]["models"]) / MODEL_DIR
    reports = Path(params["paths"]["reports"]) / "encoder"
    pairs = build_pairs(sources, pair_cfg, params, evaluation_exclusions(params))
    write_json(reports / "pairs.json", pairs.counts)
    if model_dir.exists():
        shutil.rmtree(model_dir)
    with tempfile.TemporaryDirectory(prefix="encoder-") as scratch:
        report = train_encoder(train_cfg, pairs.synonyms, pairs.graded, model_dir, scratch)
    if export.get("onnx"):
        from shortlister.encoder.export import export_onnx

        report["onnx"] = export_onnx(model_dir, int8=bool(export.get("int8", True)))
    report["pairs"] = pairs.counts["total"]
    write_json(reports / "train.json", report)
    return {"pairs": pairs.counts, "train": report}


def flat_metrics(result: dict[str, Any]) -> dict[str, float]:
    out = {f"pairs.{k}": float(v) for k, v in result["pairs"]["total"].items()}
    for source, stats in result["pairs"].items():
        if isinstance(stats, dict) and "kept_titles" in stats:
            for key, value in stats.items():
                out[f"pairs.{source}.{key}"] = float(value)
    out["train_seconds"] = float(result["train"]["train_seconds"])
    for phase in result["train"]["phases"]:
        out[f"{phase['name']}.steps"] = float(phase["steps"])
        out[f"{phase['name']}.seconds"] = float(phase["seconds"])
        if phase["final_loss"] is not None:
            out[f"{phase['name']}.final_loss"] = float(phase["final_loss"])
    return out


def main() -> None:
    params = start()
    with tracked("train_encoder", params, params["encoder"]):
        result = run(params)
        log_metrics(flat_metrics(result))
        reports = Path(params["paths"]["reports"]) / "encoder"
        log_artifact(reports / "pairs.json", "encoder")
        log_artifact(reports / "train.json", "encoder")
        log_artifact(Path(params["paths"]["models"]) / MODEL_DIR, f"encoder/{MODEL_DIR}")


if __name__ == "__main__":
    main()
