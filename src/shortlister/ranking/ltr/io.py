"""A trained ranker's folder (models/ranker/<name>/): weights, configs and the scaler."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

from shortlister.embeddings.base import Embedder, build_embedder
from shortlister.ranking.features import CrossScore, FeatureConfig, FeatureScaler
from shortlister.ranking.ltr.config import LtrConfig
from shortlister.ranking.ltr.model import RankNet
from shortlister.ranking.ltr.ranker import LtrRanker
from shortlister.ranking.ltr.train import TrainResult

MODEL_FILE, CONFIG_FILE, FEATURES_FILE, SCALER_FILE = (
    "model.pt",
    "model.json",
    "features.json",
    "scaler.npz",
)


def save_ranker(
    directory: str | Path, result: TrainResult, cfg: LtrConfig, features: FeatureConfig
) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(result.model.state_dict(), directory / MODEL_FILE)
    n_features = int(result.scaler.mean.shape[0])
    meta = {"config": asdict(cfg), "n_features": n_features, "best_epoch": result.best_epoch}
    (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    features.save(directory / FEATURES_FILE)
    result.scaler.save(directory / SCALER_FILE)
    return directory


def load_ltr_ranker(
    model_dir: str | Path,
    sbert: Embedder | None = None,
    cross_dir: str | Path | None = None,
    cross: CrossScore | None = None,
) -> LtrRanker:
    """Load a ranker saved by the ranker stage (models/ranker/<name>/).

    A ranker with cross-encoder features loads that model too (unless `cross` scores the
    pairs): `cross_dir`, or features.cross.model_dir under models/ (two levels up).
    """
    model_dir = Path(model_dir)
    missing = [f for f in (MODEL_FILE, CONFIG_FILE, FEATURES_FILE, SCALER_FILE)
               if not (model_dir / f).exists()]  # fmt: skip
    if missing:
        raise FileNotFoundError(
            f"{model_dir}: not a trained ranker, missing {missing} "
            "(run `python -m shortlister.stages.ranker --name <name>` first)"
        )
    meta = json.loads((model_dir / CONFIG_FILE).read_text())
    cfg = LtrConfig(**meta["config"])
    features = FeatureConfig.load(model_dir / FEATURES_FILE)
    model = RankNet(meta["n_features"], cfg.hidden_sizes, cfg.dropout, cfg.linear_skip)
    model.load_state_dict(torch.load(model_dir / MODEL_FILE, weights_only=True))
    model.eval()
    return LtrRanker(
        model,
        FeatureScaler.load(model_dir / SCALER_FILE),
        features,
        sbert or build_embedder(features.sbert),
        cfg.name,
        cross or cross_scorer(features, model_dir, cross_dir),
    )


def cross_scorer(
    features: FeatureConfig, model_dir: Path, cross_dir: str | Path | None = None
) -> CrossScore | None:
    if not features.uses_cross:
        return None
    from shortlister.cross.scorer import CrossScorer

    cfg = dict(features.cross or {})
    folder = Path(cross_dir) if cross_dir else model_dir.parents[1] / cfg["model_dir"]
    return CrossScorer(
        folder,
        cfg.get("backend", "onnx-int8"),
        int(cfg.get("max_length", 48)),
        int(cfg.get("batch_size", 64)),
    ).score
