"""Which backend the Ray embed engine runs the tuned encoder with, decided on VALIDATION.

    python benchmarks/embed_backend_quality.py --root /tmp/after \
        --model-dir /tmp/after/models/title-encoder

Cosine-ranks the default dataset's pool (`<root>/data/interim/candidates.parquet`) for its
validation queries (`<root>/data/raw/default/queries.tsv`, `qrels.txt`) with sbert-tuned run
by torch, ONNX fp32 and ONNX int8 (cache off), and reports NDCG@10 / MAP and encode
titles/s per backend; int8 twice: batched as the local path batches (the whole pool, sorted
by length) and as the Ray engine's actors batch (`--ray-batch` distinct titles per call),
and as the real engine computes it (local Ray runs at `--ray-batch` and half of it;
`--no-ray` skips them; their encode_s includes Ray's start-up), since dynamic
int8 quantisation makes a vector depend on its batch. The rule (issue 16,
part 5): ONNX int8 when every int8 figure is within `--tolerance` (0.01) NDCG@10 of torch,
else torch. Test queries are never scored here.
Writes reports/benchmarks/embed_backend_quality.json (--out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from shortlister.core.params import load_params
from shortlister.data.datasets import default_dataset
from shortlister.embeddings.base import build_embedder
from shortlister.evaluation.metrics import MetricConfig, evaluate_run
from shortlister.ranking.cosine import cosine_scores, rank

BACKENDS = ("torch", "onnx", "onnx-int8")
MATRICES: dict[str, np.ndarray] = {}  # pool vectors per measured variant
TOLERANCE_VECTORS = 1e-5  # the Ray engine's contract: the local path's vectors within this
SPLIT = "validation"


def encode_like_ray(embedder, titles: list[str], batch_size: int) -> np.ndarray:
    """What the Ray actors compute: the distinct titles, in first-appearance order, one
    `encode` call per map_batches batch. Dynamic int8 quantisation scales activations per
    batch, so an int8 vector depends on its batch-mates; torch and fp32 ONNX do not."""
    unique = list(dict.fromkeys(titles))
    vectors = np.vstack(
        [embedder.encode(unique[i : i + batch_size]) for i in range(0, len(unique), batch_size)]
    )
    row = {t: i for i, t in enumerate(unique)}
    return vectors[[row[t] for t in titles]]


def encode_on_ray(cfg: dict, titles: list[str], batch_size: int) -> np.ndarray:
    """The real engine (local Ray, 2 workers, cache off): its batches are Ray Data's."""
    import tempfile

    from shortlister.embeddings.distributed import RayConfig, RayEngine

    ray_cfg = RayConfig(batch_size=batch_size, backend="method", progress=False)
    with tempfile.TemporaryDirectory() as work:
        return RayEngine(cfg, ray_cfg, work).encode(titles)


def measure(
    backend: str,
    model_dir: Path,
    params: dict,
    dataset,
    ray_batch: int | None = None,
    on_ray: bool = False,
) -> dict:
    cfg = {
        **params["methods"]["sbert-tuned"],
        "model": str(model_dir),
        "backend": backend,
        "cache_dir": None,
    }
    embedder = build_embedder(cfg)
    titles = dataset.candidates["title"].tolist()
    embedder.fit(titles)
    t0 = time.perf_counter()
    matrix = (
        embedder.encode(titles)
        if ray_batch is None
        else encode_like_ray(embedder, titles, ray_batch)
    )
    encode_s = time.perf_counter() - t0
    queries = dataset.queries
    scores = cosine_scores(matrix, embedder.encode(queries["query"].tolist()))
    ids = dataset.candidates["id"].tolist()
    depth = int(params["evaluation"]["run_depth"])
    run = {qid: rank(ids, scores[i], depth) for i, qid in enumerate(queries["query_id"])}
    qids = queries.loc[queries["split"] == SPLIT, "query_id"].tolist()
    means, _ = evaluate_run(
        run, dataset.qrels, MetricConfig.from_config(params["evaluation"]), query_ids=qids
    )
    MATRICES[backend if ray_batch is None else f"{backend}|{ray_batch}|{on_ray}"] = matrix
    return {
        "ndcg@10": round(float(means["ndcg@10"]), 4),
        "map": round(float(means["map"]), 4),
        "n_queries": int(means["n_queries"]),
        "n_titles": len(titles),
        "encode_s": round(encode_s, 2),
        "titles_per_s": round(len(titles) / encode_s, 1),
    }


def batch_drift(prefix: str) -> float:
    """Max abs difference between a backend's pool vectors under different batchings."""
    base = MATRICES.get(prefix)
    others = [m for k, m in MATRICES.items() if k.startswith(f"{prefix}|")]
    return max((float(np.abs(m - base).max()) for m in others), default=0.0)


def choose(results: dict[str, dict], tolerance: float) -> tuple[str, str]:
    """int8 only if every way of batching it stays within `tolerance` of torch, and its
    vectors do not depend on the batching (the Ray engine must reproduce the local path)."""
    torch_ndcg = results["torch"]["ndcg@10"]
    int8 = [name for name in results if name.startswith("onnx-int8")]
    if not int8:
        return "torch", "no int8 export measured"
    loss = max(torch_ndcg - results[name]["ndcg@10"] for name in int8)
    drift = batch_drift("onnx-int8")
    if loss <= tolerance and drift > TOLERANCE_VECTORS:
        return "torch", (
            f"int8 costs at most {loss:.4f} NDCG@10 on validation here, but its vectors "
            f"depend on the batching (max abs diff {drift:.4f} between batchings, > "
            f"{TOLERANCE_VECTORS}), so the cost moves with Ray's batching and the engine "
            "could not reproduce the local path"
        )
    if loss <= tolerance:
        return "onnx-int8", f"int8 costs at most {loss:.4f} NDCG@10 on validation (<= {tolerance})"
    return "torch", f"int8 costs up to {loss:.4f} NDCG@10 on validation (> {tolerance})"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=Path("."), help="a pipeline checkout/run")
    parser.add_argument("--model-dir", type=Path, default=None, help="<root>/models/title-encoder")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--tolerance", type=float, default=0.01)
    parser.add_argument("--ray-batch", type=int, default=512, help="embed.ray.batch_size")
    parser.add_argument("--no-ray", action="store_true", help="skip the real Ray engine run")
    parser.add_argument(
        "--out", type=Path, default=Path("reports/benchmarks/embed_backend_quality.json")
    )
    args = parser.parse_args()
    params = load_params(args.params)
    params["paths"] = {k: str(args.root / v) for k, v in params["paths"].items()}
    model_dir = args.model_dir or args.root / "models" / "title-encoder"
    dataset = default_dataset(params)
    results = {}
    for backend in BACKENDS:
        try:
            results[backend] = measure(backend, model_dir, params, dataset)
        except FileNotFoundError as exc:
            print(f"{backend}: skipped ({exc})", flush=True)
            continue
        print(f"{backend}: {results[backend]}", flush=True)
    if "onnx" in results:
        name = f"onnx (ray batching, {args.ray_batch})"
        results[name] = measure("onnx", model_dir, params, dataset, args.ray_batch)
        print(f"{name}: {results[name]}", flush=True)
    if "onnx-int8" in results:
        name = f"onnx-int8 (ray batching, {args.ray_batch})"
        results[name] = measure("onnx-int8", model_dir, params, dataset, args.ray_batch)
        print(f"{name}: {results[name]}", flush=True)
        for batch in [] if args.no_ray else sorted({args.ray_batch, args.ray_batch // 2}):
            name = f"onnx-int8 (ray engine, 2 workers, batch_size {batch})"
            results[name] = measure("onnx-int8", model_dir, params, dataset, batch, on_ray=True)
            print(f"{name}: {results[name]}", flush=True)
    chosen, reason = choose(results, args.tolerance)
    for row in results.values():
        row["ndcg@10_vs_torch"] = round(row["ndcg@10"] - results["torch"]["ndcg@10"], 4)
    report = {
        "split": SPLIT,
        "dataset": "default",
        "model_dir": str(model_dir),
        "tolerance_ndcg@10": args.tolerance,
        "backends": results,
        "int8_batch_drift_max_abs": round(batch_drift("onnx-int8"), 5),
        "onnx_fp32_batch_drift_max_abs": batch_drift("onnx"),
        "chosen": chosen,
        "reason": reason,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"chosen: {chosen} ({reason}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
