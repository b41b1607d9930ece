"""Stage: rank every dataset's candidates for every query; write TREC run files.

python -m shortlister.stages.rank --method sbert
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from shortlister.core.progress import progress
from shortlister.data.datasets import Dataset, load_datasets
from shortlister.embeddings.base import load_embedder, load_matrix
from shortlister.evaluation.trec import write_run
from shortlister.ranking.cosine import cosine_scores, rank
from shortlister.stages.common import start, tracked
from shortlister.stages.tracking import log_metrics

logger = logging.getLogger(__name__)


def rank_dataset(
    method: str, dataset: Dataset, model_dir: Path, emb_dir: Path, run_dir: Path, depth: int
) -> dict[str, float]:
    ids = (emb_dir / f"{dataset.name}.ids.txt").read_text().split()
    if ids != dataset.candidates["id"].tolist():
        raise RuntimeError(f"{emb_dir}: embeddings are stale for {dataset.name}; re-run embed")
    embedder = load_embedder(model_dir / dataset.name)
    matrix = load_matrix(emb_dir / dataset.name)
    t0 = time.perf_counter()
    query_vectors = embedder.encode(dataset.queries["query"].tolist())
    scores = cosine_scores(matrix, query_vectors)
    run = {qid: rank(ids, scores[i], depth) for i, qid in enumerate(dataset.queries["query_id"])}
    elapsed = time.perf_counter() - t0
    write_run(run_dir / f"{dataset.name}.trec", run, tag=method)
    n_queries = len(dataset.queries)
    logger.info("%s on %s: %d queries ranked in %.2fs", method, dataset.name, n_queries, elapsed)
    return {f"{dataset.name}.ms_per_query": 1000.0 * elapsed / max(n_queries, 1)}


def run(params: dict[str, Any], method: str) -> dict[str, float]:
    paths = params["paths"]
    depth = int(params["evaluation"]["run_depth"])
    metrics: dict[str, float] = {}
    for dataset in progress(load_datasets(params), desc=f"rank {method}", unit="pool"):
        metrics.update(
            rank_dataset(
                method,
                dataset,
                model_dir=Path(paths["models"]) / method,
                emb_dir=Path(paths["embeddings"]) / method,
                run_dir=Path(paths["runs"]) / method,
                depth=depth,
            )
        )
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--method", required=True)
    args = parser.parse_args(argv)
    params = start()
    with tracked(
        f"rank-{args.method}",
        params,
        {**params["methods"][args.method], "run_depth": params["evaluation"]["run_depth"]},
    ):
        log_metrics(run(params, args.method))


if __name__ == "__main__":
    main()
