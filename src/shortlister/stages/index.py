"""Stage: build the ANN index of a method's stored embeddings and measure what it costs.

python -m shortlister.stages.index --method sbert-tuned

For every dataset: the index (conf/index, backend `index.backend`) is built from
`<embeddings>/<method>/<dataset>.npy` and saved to `<models>/index/<method>/<dataset>/`
with a manifest (rows, dimension, model hash, rows' fingerprint) the CLI and the service
check before using it. Then each query of the dataset is searched both ways, exactly
(float32 scan) and through the index: recall@20 and recall@100 of the index against the
exact top lists, and NDCG@10 of both rankings on the judgments (the index must stay within
0.005). Every pool is indexed here whatever its size, so the approximation is measured
even where the service would scan exactly (below `index.min_pool`).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from shortlister.core.progress import progress
from shortlister.data.datasets import Dataset, load_datasets
from shortlister.embeddings.base import load_embedder, load_matrix
from shortlister.evaluation.metrics import MetricConfig, evaluate_run
from shortlister.index.ann import AnnIndex, neighbour_recall
from shortlister.index.config import IndexConfig
from shortlister.ranking.cosine import cosine_scores, top_k
from shortlister.ranking.indexed import embedder_hash
from shortlister.stages.common import start, tracked, write_json
from shortlister.stages.tracking import log_metrics

logger = logging.getLogger(__name__)

DEPTHS = (20, 100)


def index_dataset(
    dataset: Dataset,
    model_dir: Path,
    emb_dir: Path,
    out_dir: Path,
    cfg: IndexConfig,
    metrics: MetricConfig,
) -> dict[str, float]:
    ids = (emb_dir / f"{dataset.name}.ids.txt").read_text().split()
    if ids != dataset.candidates["id"].tolist():
        raise RuntimeError(f"{emb_dir}: embeddings are stale for {dataset.name}; re-run embed")
    embedder = load_embedder(model_dir / dataset.name)
    matrix = load_matrix(emb_dir / dataset.name, mmap=True)
    if not isinstance(matrix, np.ndarray):
        raise RuntimeError(f"{emb_dir}: sparse embeddings cannot be indexed; use a dense method")
    index = AnnIndex.build(matrix, cfg, embedder_hash(embedder))
    index.save(out_dir / dataset.name)

    queries = embedder.encode(dataset.queries["query"].tolist())
    depth = min(max(DEPTHS), len(ids))
    t0 = time.perf_counter()
    exact_scores = cosine_scores(matrix, queries)
    exact = np.stack([top_k(row, depth) for row in exact_scores])
    t1 = time.perf_counter()
    found, found_scores = index.search(queries, depth)
    t2 = time.perf_counter()
    out = {
        "n": float(len(ids)),
        "build_s": index.manifest.build_s,
        "index_mb": round(index.manifest.nbytes / 2**20, 3),
        "exact_ms_per_query": round(1000 * (t1 - t0) / max(len(queries), 1), 4),
        "index_ms_per_query": round(1000 * (t2 - t1) / max(len(queries), 1), 4),
    }
    for k in DEPTHS:
        out[f"recall_at_{k}"] = round(neighbour_recall(found[:, :k], exact[:, : min(k, depth)]), 4)
    qids = dataset.queries["query_id"].tolist()
    exact_run = {
        q: [(ids[r], float(exact_scores[i, r])) for r in exact[i]] for i, q in enumerate(qids)
    }
    index_run = {
        q: [(ids[r], float(s)) for r, s in zip(found[i], found_scores[i], strict=True) if r >= 0]
        for i, q in enumerate(qids)
    }
    name = f"ndcg@{metrics.ndcg_k}"
    exact_ndcg = evaluate_run(exact_run, dataset.qrels, metrics)[0][name]
    index_ndcg = evaluate_run(index_run, dataset.qrels, metrics)[0][name]
    out.update({f"exact_{name}": round(exact_ndcg, 4), f"index_{name}": round(index_ndcg, 4)})
    out[f"{name}_delta"] = round(index_ndcg - exact_ndcg, 4)
    logger.info("%s: %s", dataset.name, out)
    return {f"{dataset.name}.{k}": v for k, v in out.items()}


def run(params: dict[str, Any], method: str) -> dict[str, float]:
    paths = params["paths"]
    cfg = IndexConfig.from_config(params["index"])
    metrics_cfg = MetricConfig.from_config(params["evaluation"])
    result: dict[str, float | str] = {"backend": cfg.backend}
    for dataset in progress(load_datasets(params), desc=f"index {method}", unit="pool"):
        result.update(
            index_dataset(
                dataset,
                model_dir=Path(paths["models"]) / method,
                emb_dir=Path(paths["embeddings"]) / method,
                out_dir=Path(paths["models"]) / "index" / method,
                cfg=cfg,
                metrics=metrics_cfg,
            )
        )
    write_json(Path(paths["reports"]) / "index" / f"{method}.json", result)
    return {k: v for k, v in result.items() if isinstance(v, float)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--method", required=True)
    args = parser.parse_args(argv)
    params = start()
    with tracked(f"index-{args.method}", params, params["index"]):
        log_metrics(run(params, args.method))


if __name__ == "__main__":
    main()
