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
from shortlister.cross.rerank import HEADS_DIR, read_heads
from shortlister.cross.scorer import MODEL_DIR
from shortlister.data.datasets import DEFAULT, Dataset, load_datasets, ranker_holdout
from shortlister.embeddings.base import Embedder, load_embedder, load_matrix
from shortlister.evaluation.trec import write_run
from shortlister.ranking.cosine import rank
from shortlister.ranking.features import (
    CROSS_SCALARS,
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

CROSS_METHOD = "cross-encoder"  # runs/cross-encoder/heads/: the cross_encoder stage's scores


def ranker_configs(params: dict[str, Any], name: str) -> tuple[LtrConfig, FeatureConfig]:
    rankers = params.get("rankers", {})
    if name not in rankers:
        raise KeyError(f"params.yaml: no rankers.{name}; expected one of {sorted(rankers)}")
    cfg = dict(rankers[name])
    encoder = feature_encoder(params, name)
    cfg.pop("encoder", None)
    cfg.pop("train_queries", None)
    if any(s in CROSS_SCALARS for s in cfg.get("scalars", ())):
        cfg["cross"] = cross_feature_config(params)
    ltr_cfg, feat_cfg = RankerConfig.from_config(cfg)
    # New pools (CLI, service) are embedded exactly as the pipeline's encoder/tfidf methods.
    feat_cfg.sbert = dict(params["methods"][encoder])
    feat_cfg.tfidf = dict(params["methods"]["tfidf"])
    return ltr_cfg, feat_cfg


def cross_feature_config(params: dict[str, Any]) -> dict[str, Any]:
    """How the `cross*` features are scored: as the cross_encoder stage scored its heads
    (the same depth, backend and truncation), so the CLI and service match the runs."""
    cross = params["cross"]
    return {
        "model_dir": MODEL_DIR,  # under paths.models
        "depth": max(cross["rerank"]["top_n"]),
        "backend": cross["rerank"]["backend"],
        "max_length": cross["train"]["max_length"],
        "batch_size": cross["rerank"]["batch_size"],
    }


def training_queries(params: dict[str, Any], name: str, dataset: Dataset) -> set[str] | None:
    """rankers.<name>.train_queries: `all` training queries, or `unseen`: only those kept
    from both encoders (encoder.sources.ranker_holdout). None: no restriction."""
    choice = params["rankers"][name].get("train_queries", "all")
    if choice == "all":
        return None
    if choice != "unseen":
        raise ValueError(f"rankers.{name}.train_queries must be 'all' or 'unseen', got {choice!r}")
    share = float(params["encoder"]["sources"].get("ranker_holdout", 0.0))
    train = dataset.queries.loc[dataset.queries["split"] == "train", "query_id"]
    held = ranker_holdout(train, share)
    if not held:
        raise ValueError(
            f"rankers.{name}.train_queries = unseen, but encoder.sources.ranker_holdout = "
            f"{share} keeps no training query from the encoders; raise it or use 'all'"
        )
    return held


def add_heads(params: dict[str, Any], dataset: Dataset, index: PoolIndex, qs: QueryScores) -> None:
    """qs.scores["cross"] from the cross_encoder stage's scored heads (NaN elsewhere)."""
    runs = Path(params["paths"]["runs"])
    heads = read_heads(runs / CROSS_METHOD / HEADS_DIR / f"{dataset.name}.tsv")
    rows = {qid: i for i, qid in enumerate(dataset.queries["query_id"])}
    cols = {cid: i for i, cid in enumerate(index.ids)}
    cross = np.full(qs.scores["sbert_cos"].shape, np.nan, dtype=np.float32)
    r = heads["query_id"].map(rows)
    c = heads["id"].map(cols)
    keep = r.notna() & c.notna()
    cross[r[keep].astype(int), c[keep].astype(int)] = heads.loc[keep, "cross"].to_numpy()
    qs.scores["cross"] = cross


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
    only: set[str] | None = None,
) -> list[RankingList]:
    queries = dataset.queries.reset_index(drop=True)
    chosen = queries["split"] == split
    if only is not None:
        chosen &= queries["query_id"].isin(only)
    rows = queries.index[chosen].tolist()
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
    qs = score_queries(index, dataset.queries["query"].tolist(), sbert)
    if cfg.uses_cross:
        add_heads(params, dataset, index, qs)
    return index, qs, sbert


def train(
    ltr_cfg: LtrConfig,
    feat_cfg: FeatureConfig,
    dataset: Dataset,
    index: PoolIndex,
    qs: QueryScores,
    only: set[str] | None = None,
) -> TrainResult:
    """Scaler and model from the training queries (`only` these, when given), early
    stopping on validation only."""
    names = feat_cfg.names(index.sbert.shape[1])
    train_lists = split_lists(dataset, index, qs, feat_cfg, "train", only=only)
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
    only = training_queries(params, name, default)
    result = train(ltr_cfg, feat_cfg, default, index, qs, only)
    model_dir = save_ranker(Path(paths["models"]) / "ranker" / name, result, ltr_cfg, feat_cfg)
    # The runs use the stored heads; the CLI and service score with the model (io.py).
    ranker = LtrRanker(result.model, result.scaler, feat_cfg, sbert, name)
    report: dict[str, Any] = {
        "name": name,
        "encoder": encoder,
        "cross_features": feat_cfg.uses_cross,
        "train_queries": "all" if only is None else f"unseen ({len(only)})",
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
