"""Stage: train a learned re-ranker (RankNet / LambdaRank) and write its TREC runs.

python -m shortlister.stages.ranker --name ranknet

Trains on the default dataset's training queries (early stopping on its validation
queries), then re-ranks every query of every dataset: runs/<name>/<dataset>.trec, the
model under models/ranker/<name>/ and a report at reports/ranker/<name>.json.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from shortlister.core.progress import progress
from shortlister.data.datasets import DEFAULT, Dataset, load_datasets
from shortlister.embeddings.base import Embedder, load_embedder, load_matrix
from shortlister.evaluation.trec import write_run
from shortlister.ranking.cosine import rank
from shortlister.ranking.features import (
    FeatureConfig,
    PoolIndex,
    QueryScores,
    build_pool_index,
    score_queries,
)
from shortlister.ranking.ltr.config import LtrConfig, RankerConfig
from shortlister.ranking.ltr.io import save_ranker
from shortlister.ranking.ltr.lists import RankingList, build_lists, recall_ceiling
from shortlister.ranking.ltr.ranker import LtrRanker, tie_rate
from shortlister.ranking.ltr.train import TrainResult, train_ranker
from shortlister.stages.common import start, tracked, write_json
from shortlister.stages.tracking import log_artifact, log_metrics

logger = logging.getLogger(__name__)


def ranker_configs(params: dict[str, Any], name: str) -> tuple[LtrConfig, FeatureConfig]:
    rankers = params.get("rankers", {})
    if name not in rankers:
        raise KeyError(f"params.yaml: no rankers.{name}; expected one of {sorted(rankers)}")
    cfg = dict(rankers[name])
    encoder = feature_encoder(params, name)
    cfg.pop("encoder", None)
    ltr_cfg, feat_cfg = RankerConfig.from_config(cfg)
    # New pools (CLI, service) are embedded exactly as the pipeline's encoder/tfidf methods.
    feat_cfg.sbert = dict(params["methods"][encoder])
    feat_cfg.tfidf = dict(params["methods"]["tfidf"])
    return ltr_cfg, feat_cfg


def feature_encoder(params: dict[str, Any], name: str) -> str:
    """The dense encoder behind the `sbert_*` features: rankers.<name>.encoder (a method key)."""
    encoder = params["rankers"][name].get("encoder", "sbert")
    if encoder not in params["methods"]:
        raise KeyError(
            f"rankers.{name}.encoder = {encoder!r} is not a method; expected one of "
            f"{sorted(params['methods'])}"
        )
    return encoder


def dataset_index(
    params: dict[str, Any], dataset: Dataset, cfg: FeatureConfig, encoder: str = "sbert"
) -> tuple[PoolIndex, Embedder]:
    """The pool index from the embed stage's fitted models and stored matrices."""
    models, emb = Path(params["paths"]["models"]), Path(params["paths"]["embeddings"])
    for method in (encoder, "tfidf"):
        ids = (emb / method / f"{dataset.name}.ids.txt").read_text().split()
        if ids != dataset.candidates["id"].tolist():
            raise RuntimeError(f"{emb / method}: embeddings are stale for {dataset.name}")
    sbert = load_embedder(models / encoder / dataset.name)
    index = build_pool_index(
        dataset.candidates,
        cfg,
        sbert=sbert,
        sbert_matrix=load_matrix(emb / encoder / dataset.name),
        tfidf=load_embedder(models / "tfidf" / dataset.name),
        tfidf_matrix=load_matrix(emb / "tfidf" / dataset.name),
    )
    return index, sbert


def split_lists(
    dataset: Dataset,
    index: PoolIndex,
    qs: QueryScores,
    cfg: FeatureConfig,
    split: str,
    with_features: bool = True,
) -> list[RankingList]:
    queries = dataset.queries.reset_index(drop=True)
    rows = queries.index[queries["split"] == split].tolist()
    qids = queries.loc[rows, "query_id"].tolist()
    return build_lists(index, qs, qids, dataset.qrels, cfg, rows, with_features)


def write_dataset_run(
    ranker: LtrRanker, dataset: Dataset, index: PoolIndex, qs: QueryScores, out: Path, depth: int
) -> dict[str, Any]:
    """Re-rank every query of the dataset; the run file plus per-split tie rates."""
    t0 = time.perf_counter()
    run, ties = {}, {}
    queries = dataset.queries
    pairs = zip(queries["query_id"], queries["split"], strict=True)
    bar = progress(pairs, total=len(queries), desc=f"{ranker.name} {dataset.name}", unit="query")
    for row, (qid, split) in enumerate(bar):
        scores = ranker.rerank(index, qs, row)
        run[qid] = rank(index.ids, scores, depth)
        ties.setdefault(split, []).append(tie_rate(scores, 10))
    elapsed = time.perf_counter() - t0
    write_run(out / f"{dataset.name}.trec", run, tag=ranker.name)
    logger.info(
        "%s on %s: %d queries re-ranked in %.2fs", ranker.name, dataset.name, len(run), elapsed
    )
    return {
        "ms_per_query": 1000.0 * elapsed / max(len(run), 1),
        "tie_rate": {split: float(np.mean(v)) for split, v in ties.items()},
    }


def indexed(
    params: dict[str, Any], dataset: Dataset, cfg: FeatureConfig, encoder: str = "sbert"
) -> tuple[PoolIndex, QueryScores, Embedder]:
    index, sbert = dataset_index(params, dataset, cfg, encoder)
    return index, score_queries(index, dataset.queries["query"].tolist(), sbert), sbert


def train(
    ltr_cfg: LtrConfig, feat_cfg: FeatureConfig, dataset: Dataset, index: PoolIndex, qs: QueryScores
) -> TrainResult:
    """Scaler and model from the training queries, early stopping on validation only."""
    names = feat_cfg.names(index.sbert.shape[1])
    train_lists = split_lists(dataset, index, qs, feat_cfg, "train")
    val_lists = split_lists(dataset, index, qs, feat_cfg, "validation")
    logger.info(
        "%s: %d training and %d validation lists, %d features",
        ltr_cfg.name,
        len(train_lists),
        len(val_lists),
        len(names),
    )
    return train_ranker(train_lists, val_lists, ltr_cfg, names)


def run(params: dict[str, Any], name: str) -> dict[str, Any]:
    """Train, save, write runs; returns the report (also written as JSON)."""
    paths = params["paths"]
    ltr_cfg, feat_cfg = ranker_configs(params, name)
    encoder = feature_encoder(params, name)
    datasets = load_datasets(params)
    default = next(ds for ds in datasets if ds.name == DEFAULT)
    index, qs, sbert = indexed(params, default, feat_cfg, encoder)
    result = train(ltr_cfg, feat_cfg, default, index, qs)
    model_dir = save_ranker(Path(paths["models"]) / "ranker" / name, result, ltr_cfg, feat_cfg)
    ranker = LtrRanker(result.model, result.scaler, feat_cfg, sbert, name)
    report: dict[str, Any] = {
        "name": name,
        "encoder": encoder,
        "loss": ltr_cfg.loss,
        "n_features": len(result.scaler.mean),
        "n_training_pairs": result.n_pairs,
        "best_epoch": result.best_epoch,
        "best_val_ndcg@10": result.best_val_ndcg,
        "train_seconds": round(result.train_seconds, 3),
        "pairs_per_second": round(result.pairs_per_second, 1),
        "curve": result.history,
        "datasets": {},
    }
    for ds in datasets:
        if ds is not default:
            index, qs, _ = indexed(params, ds, feat_cfg, encoder)
        stats = write_dataset_run(
            ranker, ds, index, qs, Path(paths["runs"]) / name, params["evaluation"]["run_depth"]
        )
        stats["recall_ceiling"] = {
            split: recall_ceiling(
                split_lists(ds, index, qs, feat_cfg, split, with_features=False),
                params["evaluation"]["min_grade"],
            )
            for split in ds.splits
        }
        report["datasets"][ds.name] = stats
    write_json(Path(paths["reports"]) / "ranker" / f"{name}.json", report)
    logger.info("%s saved to %s", name, model_dir)
    return report


def flat_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The report's numbers as MLflow metrics (the curve is logged per step)."""
    out = {
        k: float(report[k])
        for k in ("best_epoch", "best_val_ndcg@10", "train_seconds", "pairs_per_second")
    }
    for ds, stats in report["datasets"].items():
        out[f"{ds}.ms_per_query"] = stats["ms_per_query"]
        for split, value in stats["tie_rate"].items():
            out[f"{ds}.{split}.tie_rate"] = value
        for split, ceiling in stats["recall_ceiling"].items():
            for key, value in ceiling.items():
                out[f"{ds}.{split}.ceiling_{key}"] = value
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True, help="a key of rankers in params.yaml")
    args = parser.parse_args(argv)
    params = start()
    with tracked(f"ranker-{args.name}", params, params["rankers"][args.name]):
        report = run(params, args.name)
        log_metrics(flat_metrics(report))
        for point in report["curve"][1:]:
            log_metrics(
                {"train_loss": point["train_loss"], "val_ndcg_at_10": point["val_ndcg"]},
                step=int(point["epoch"]),
            )
        paths = params["paths"]
        log_artifact(Path(paths["models"]) / "ranker" / args.name, f"ranker/{args.name}")
        log_artifact(Path(paths["reports"]) / "ranker" / f"{args.name}.json")


if __name__ == "__main__":
    main()
