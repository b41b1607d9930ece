"""Stage: train the cross-encoder and re-rank the tuned encoder's top N (`cross-encoder`).

python -m shortlister.stages.cross_encoder

Graded pairs from the encoder's sources (reports/cross/pairs.json), training
(models/cross-encoder, with its ONNX / int8 export), then every dataset's first-stage run
(runs/<cross.rerank.first_stage>/) re-ranked: runs/cross-encoder/<dataset>.trec. The
depth N and blend weight are chosen on the default validation queries
(reports/cross/rerank.json holds the grid); the benchmarks are scored, never consulted.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from shortlister.core.progress import progress
from shortlister.cross.config import CrossConfig
from shortlister.cross.pairs import build_cross_pairs
from shortlister.cross.rerank import HEADS_DIR, choose, rerank_list, score_heads, write_heads
from shortlister.cross.scorer import MODEL_DIR, SERVING_FILE, CrossScorer
from shortlister.cross.train import base_folder, train_cross_encoder
from shortlister.data.datasets import DEFAULT, load_datasets
from shortlister.embeddings.base import build_embedder
from shortlister.encoder.exclusions import evaluation_exclusions
from shortlister.evaluation.metrics import MetricConfig
from shortlister.evaluation.trec import read_run, write_run
from shortlister.stages.common import start, tracked, write_json
from shortlister.stages.tracking import log_artifact, log_metrics

logger = logging.getLogger(__name__)

METHOD = "cross-encoder"


def _progress(desc: str):
    return lambda items: progress(
        items, total=len(items), desc=f"cross-encoder {desc}", unit="query"
    )


def train(params: dict[str, Any], cfg: CrossConfig) -> dict[str, Any]:
    """Pairs, training and export; returns {"pairs": counts, "train": report}."""
    paths = params["paths"]
    first = build_embedder(dict(params["methods"][cfg.rerank.first_stage]))
    pairs = build_cross_pairs(cfg, params, evaluation_exclusions(params), first.encode)
    reports = Path(paths["reports"]) / "cross"
    write_json(reports / "pairs.json", pairs.counts)
    model_dir = Path(paths["models"]) / MODEL_DIR
    if model_dir.exists():
        shutil.rmtree(model_dir)
    base = base_folder(cfg.train.base_model, paths["models"])
    with tempfile.TemporaryDirectory(prefix="cross-") as scratch:
        report = train_cross_encoder(cfg.train, pairs.pairs, base, model_dir, scratch, cfg.seed)
    from shortlister.cross.export import export_cross_onnx

    report["onnx"] = export_cross_onnx(model_dir, int8=cfg.export_int8)
    return {"pairs": pairs.counts, "train": report}


def rerank_datasets(params: dict[str, Any], cfg: CrossConfig) -> dict[str, Any]:
    """Score every dataset's first-stage top N, choose (N, w) on validation, write runs."""
    paths = params["paths"]
    rr = cfg.rerank
    scorer = CrossScorer(
        Path(paths["models"]) / MODEL_DIR, rr.backend, cfg.train.max_length, rr.batch_size
    )
    metric_cfg = MetricConfig.from_config(params["evaluation"])
    depth = max(rr.top_n)
    scored: dict[str, Any] = {}
    timing: dict[str, float] = {}
    for ds in load_datasets(params):
        run = read_run(Path(paths["runs"]) / rr.first_stage / f"{ds.name}.trec")
        titles = dict(zip(ds.candidates["id"], ds.candidates["title"], strict=True))
        queries = dict(zip(ds.queries["query_id"], ds.queries["query"], strict=True))
        t0 = time.perf_counter()
        heads = score_heads(run, queries, titles, scorer.score, depth, _progress(ds.name))
        timing[ds.name] = 1000.0 * (time.perf_counter() - t0) / max(len(run), 1)
        scored[ds.name] = (ds, run, heads)
    ds, run, heads = scored[DEFAULT]
    select = ds.queries.loc[ds.queries["split"] == rr.select_on, "query_id"].tolist()
    choice = choose(
        run, heads, ds.qrels, select, rr.top_n, rr.weights, metric_cfg, rr.select_metric
    )
    serving = {
        "first_stage": rr.first_stage,
        "top_n": choice.top_n,
        "weight": choice.weight,
        "selected_on": f"{DEFAULT}.{rr.select_on}",
        rr.select_metric: round(choice.value, 6),
    }
    write_json(Path(paths["models"]) / MODEL_DIR / SERVING_FILE, serving)
    for name, (_, run, heads) in scored.items():
        out = {q: rerank_list(run[q], heads[q], choice.top_n, choice.weight) for q in run}
        write_run(Path(paths["runs"]) / METHOD / f"{name}.trec", out, tag=METHOD)
        write_heads(Path(paths["runs"]) / METHOD / HEADS_DIR / f"{name}.tsv", run, heads)
    return {
        "first_stage": rr.first_stage,
        "backend": rr.backend,
        "chosen": {"top_n": choice.top_n, "weight": choice.weight, rr.select_metric: choice.value},
        "selected_on": f"{DEFAULT}.{rr.select_on}",
        "grid": choice.grid,
        "ms_per_query_scoring_top": {name: round(v, 2) for name, v in timing.items()},
        "scored_depth": depth,
    }


def run(params: dict[str, Any]) -> dict[str, Any]:
    cfg = CrossConfig.from_config(params["cross"])
    result = train(params, cfg)
    result["rerank"] = rerank_datasets(params, cfg)
    reports = Path(params["paths"]["reports"]) / "cross"
    write_json(reports / "train.json", result["train"])
    write_json(reports / "rerank.json", result["rerank"])
    return result


def flat_metrics(result: dict[str, Any]) -> dict[str, float]:
    train, rr = result["train"], result["rerank"]
    out = {k: float(train[k]) for k in ("steps", "train_seconds", "pairs_per_second", "n_pairs")}
    if train.get("final_loss") is not None:
        out["final_loss"] = float(train["final_loss"])
    out["chosen_top_n"] = float(rr["chosen"]["top_n"])
    out["chosen_weight"] = float(rr["chosen"]["weight"])
    for name, ms in rr["ms_per_query_scoring_top"].items():
        out[f"{name}.ms_per_query"] = float(ms)
    out["pairs.total"] = float(result["pairs"]["total"])
    return out


def main() -> None:
    params = start()
    with tracked("cross_encoder", params, params["cross"]):
        result = run(params)
        log_metrics(flat_metrics(result))
        reports = Path(params["paths"]["reports"]) / "cross"
        for name in ("pairs.json", "train.json", "rerank.json"):
            log_artifact(reports / name, "cross")
        log_artifact(Path(params["paths"]["models"]) / MODEL_DIR, f"cross/{MODEL_DIR}")


if __name__ == "__main__":
    main()
