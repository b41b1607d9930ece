"""Stage: fit each method on a candidate pool and store its embeddings.

python -m shortlister.stages.embed --method sbert

`embed.engine: ray` runs the dense neural methods on Ray Data (docs/embed_ray.md).
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
from pathlib import Path
from typing import Any

from shortlister.core.progress import progress
from shortlister.data.datasets import Dataset, load_datasets
from shortlister.embeddings.base import build_embedder, save_matrix
from shortlister.embeddings.distributed import EmbedConfig, embed_with_ray, ray_unsupported
from shortlister.stages.common import start, tracked, write_json
from shortlister.stages.tracking import log_metrics

logger = logging.getLogger(__name__)


def embed_dataset(
    method_cfg: dict[str, Any],
    dataset: Dataset,
    model_dir: Path,
    emb_dir: Path,
    embed_cfg: dict[str, Any] | None = None,
) -> dict[str, float]:
    titles = dataset.candidates["title"].tolist()
    cfg = EmbedConfig.from_config(embed_cfg)
    if cfg.engine == "ray" and titles:
        reason = ray_unsupported(method_cfg)
        if reason is None:
            return embed_dataset_ray(method_cfg, dataset, model_dir, emb_dir, cfg)
        logger.warning("%s; embedding %s locally", reason, dataset.name)
    embedder = build_embedder(method_cfg)
    rss_before = peak_rss_mb()
    t0 = time.perf_counter()
    embedder.fit(titles)
    t1 = time.perf_counter()
    matrix = embedder.encode(titles)
    t2 = time.perf_counter()
    embedder.save(model_dir / dataset.name)
    save_matrix(emb_dir / dataset.name, matrix)
    (emb_dir / f"{dataset.name}.ids.txt").write_text("\n".join(dataset.candidates["id"]) + "\n")
    n = len(titles)
    logger.info(
        "%s on %s: %d titles, fit %.2fs, encode %.2fs (%.0f titles/s)",
        method_cfg["name"],
        dataset.name,
        n,
        t1 - t0,
        t2 - t1,
        n / max(t2 - t1, 1e-9),
    )
    stats = {
        "n_titles": float(n),
        "fit_seconds": round(t1 - t0, 3),
        "encode_seconds": round(t2 - t1, 3),
        "titles_per_second": round(n / max(t2 - t1, 1e-9), 1),
        # Titles the model really encoded; the rest came from a cache (Sentence-BERT).
        "n_encoded": float(getattr(embedder, "last_encoded", n)),
        # The process's peak RSS: one stage process per method, so this is the method's.
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_growth_mb": round(peak_rss_mb() - rss_before, 1),
    }
    return {f"{dataset.name}.{k}": v for k, v in stats.items()}


def embed_dataset_ray(
    method_cfg: dict[str, Any], dataset: Dataset, model_dir: Path, emb_dir: Path, cfg: EmbedConfig
) -> dict[str, float]:
    """The Ray Data engine (docs/embed_ray.md): the same files as the local path."""
    titles = dataset.candidates["title"].tolist()
    shard_dir = cfg.ray.shard_dir
    work_dir = (
        emb_dir / f"{dataset.name}.shards"
        if shard_dir is None
        else Path(shard_dir).expanduser() / model_dir.name / dataset.name
    )
    t0 = time.perf_counter()
    matrix, embedder, ray_stats = embed_with_ray(method_cfg, titles, cfg.ray, work_dir)
    elapsed = time.perf_counter() - t0
    embedder.save(model_dir / dataset.name)
    save_matrix(emb_dir / dataset.name, matrix)
    (emb_dir / f"{dataset.name}.ids.txt").write_text("\n".join(dataset.candidates["id"]) + "\n")
    n = len(titles)
    logger.info("%s on %s (ray): %d titles in %.2fs", method_cfg["name"], dataset.name, n, elapsed)
    stats = {
        "n_titles": float(n),
        "fit_seconds": 0.0,  # the model is loaded in the workers, inside encode_seconds
        "encode_seconds": round(elapsed, 3),
        "titles_per_second": round(n / max(elapsed, 1e-9), 1),
        "n_encoded": ray_stats["n_encoded"],
        # The driver's peak RSS only: the encoders run in Ray worker processes.
        "peak_rss_mb": round(peak_rss_mb(), 1),
        **{f"ray_{k}": v for k, v in ray_stats.items() if k != "n_encoded"},
    }
    return {f"{dataset.name}.{k}": v for k, v in stats.items()}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def run(params: dict[str, Any], method: str) -> dict[str, float]:
    method_cfg = params["methods"][method]
    paths = params["paths"]
    model_dir = Path(paths["models"]) / method
    emb_dir = Path(paths["embeddings"]) / method
    metrics: dict[str, float] = {}
    # Sentence-BERT methods add a bar of their own per pool of at least `progress_min` titles.
    for dataset in progress(load_datasets(params), desc=f"embed {method}", unit="pool"):
        metrics.update(embed_dataset(method_cfg, dataset, model_dir, emb_dir, params.get("embed")))
    # Read by the evaluate stage for the comparison table (cost next to quality).
    write_json(emb_dir / "stats.json", metrics)
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--method", required=True)
    args = parser.parse_args(argv)
    params = start()
    with tracked(f"embed-{args.method}", params, params["methods"][args.method]):
        log_metrics(run(params, args.method))


if __name__ == "__main__":
    main()
