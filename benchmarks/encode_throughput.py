"""Encode throughput (titles/s) and fit time per embedding method, on 10k and 100k titles.

    python benchmarks/encode_throughput.py                       # all methods, 10k and 100k
    python benchmarks/encode_throughput.py --sizes 10000 --methods tfidf sbert

Titles come from the bundled default-dataset generator (messy, realistic headlines).
Sentence-BERT is timed cold (empty content-hash cache) and cached (a fresh embedder
over the same cache, as a re-run would be); the cached run must be >= 50x faster.
The tuned title encoder (`sbert-tuned`, models/title-encoder) is timed per backend: torch,
ONNX and ONNX int8 (cache off); `--quality` adds what each backend scores (MAP, NDCG@10 on
the test split of every dataset the pipeline built), so the speed-up's cost is visible.
Prints a table and writes the figures as JSON (--out).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from shortlister.core.logs import configure_logging
from shortlister.data.default.build import generate_default_dataset
from shortlister.data.default.config import GenerateConfig
from shortlister.embeddings.base import available_methods, build_embedder

CACHED_SPEEDUP_TARGET = 50.0
TUNED_BACKENDS = ("torch", "onnx", "onnx-int8")


def titles(n: int) -> list[str]:
    pool = generate_default_dataset(GenerateConfig(n_candidates=n, n_queries=60))
    return [t for t in pool.candidates["title"].tolist() if t.strip()]


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def tuned_rows(texts: list[str], model_dir: Path) -> list[dict]:
    """One cold row per backend of the tuned encoder; missing exports are reported, not fatal."""
    rows = []
    for backend in TUNED_BACKENDS:
        cfg = {"name": "sbert-tuned", "model": str(model_dir), "backend": backend}
        try:
            embedder = build_embedder({**cfg, "cache_dir": None})
            _, fit_s = timed(embedder.fit, texts)
        except FileNotFoundError as exc:
            print(f"sbert-tuned[{backend}] skipped: {exc}", flush=True)
            continue
        _, enc_s = timed(embedder.encode, texts)
        rows.append(
            {
                "method": f"sbert-tuned[{backend}]",
                "mode": "cold",
                "n": len(texts),
                "fit_s": fit_s,
                "encode_s": enc_s,
                "titles_per_s": len(texts) / enc_s,
            }
        )
    torch_rows = [r for r in rows if r["method"] == "sbert-tuned[torch]"]
    for r in rows:
        if torch_rows and r is not torch_rows[0]:
            r["speedup_vs_torch"] = r["titles_per_s"] / torch_rows[0]["titles_per_s"]
    return rows


def tuned_quality(model_dir: Path) -> dict[str, dict]:
    """{backend: {dataset: {map, ndcg@10}}} on the test split, cosine ranking."""
    from shortlister.core.params import load_params
    from shortlister.data.datasets import load_datasets
    from shortlister.evaluation.metrics import MetricConfig
    from shortlister.ranking.encoder_eval import evaluate_encoder

    params = load_params()
    datasets = load_datasets(params)
    out = {}
    for backend in TUNED_BACKENDS:
        cfg = {**params["methods"]["sbert-tuned"], "model": str(model_dir), "backend": backend}
        results = evaluate_encoder(
            {**cfg, "cache_dir": None},
            datasets,
            MetricConfig.from_config(params["evaluation"]),
            params["evaluation"]["run_depth"],
            ("test",),
        )
        out[backend] = {
            ds: {m: v["test"][m] for m in ("map", "ndcg@10")} for ds, v in results.items()
        }
        print(f"sbert-tuned[{backend}] test quality: {out[backend]}", flush=True)
    return out


def bench_method(method: str, texts: list[str], cache_dir: Path, tuned: Path) -> list[dict]:
    if method == "sbert-tuned":
        return tuned_rows(texts, tuned)
    cfg = {"name": method}
    if method == "sbert":
        cfg["cache_dir"] = str(cache_dir)
    embedder = build_embedder(cfg)
    _, fit_s = timed(embedder.fit, texts)
    _, enc_s = timed(embedder.encode, texts)
    rows = [
        {
            "method": method,
            "mode": "cold",
            "n": len(texts),
            "fit_s": fit_s,
            "encode_s": enc_s,
            "titles_per_s": len(texts) / enc_s,
        }
    ]
    if method == "sbert":
        again = build_embedder(cfg).fit(texts)  # a re-run: new process state, same cache
        _, cached_s = timed(again.encode, texts)
        rows.append(
            {
                "method": method,
                "mode": "cached",
                "n": len(texts),
                "fit_s": 0.0,
                "encode_s": cached_s,
                "titles_per_s": len(texts) / cached_s,
                "speedup": enc_s / cached_s,
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--methods", nargs="+", default=None)
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/encode.json"))
    parser.add_argument("--tuned-model", type=Path, default=Path("models/title-encoder"))
    parser.add_argument(
        "--quality", action="store_true", help="also score each sbert-tuned backend (MAP, NDCG@10)"
    )
    args = parser.parse_args()
    configure_logging("WARNING")
    methods = args.methods or available_methods()
    rows: list[dict] = []
    for n in args.sizes:
        texts = titles(n)
        for method in methods:
            cache = Path(tempfile.mkdtemp(prefix="sl-bench-cache-"))
            try:
                rows.extend(bench_method(method, texts, cache, args.tuned_model))
            finally:
                shutil.rmtree(cache, ignore_errors=True)
            if not rows:
                continue
            r = rows[-1]
            print(
                f"{method:>9} n={r['n']:>7}: {r['mode']:>6} {r['titles_per_s']:>12,.0f} "
                f"titles/s (fit {rows[-1 - (r['mode'] == 'cached')]['fit_s']:.1f}s)",
                flush=True,
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{'method':>9} {'n':>7} {'mode':>6} {'fit s':>8} {'encode s':>9} {'titles/s':>12}")
    for r in rows:
        print(
            f"{r['method']:>9} {r['n']:>7} {r['mode']:>6} {r['fit_s']:>8.2f} "
            f"{r['encode_s']:>9.3f} {r['titles_per_s']:>12,.0f}"
            + (f"   x{r['speedup']:.0f} vs cold" if "speedup" in r else "")
            + (f"   x{r['speedup_vs_torch']:.2f} vs torch" if "speedup_vs_torch" in r else "")
        )
    print(f"peak RSS of this process: {peak:.0f} MB")
    result = {"rows": rows, "peak_rss_mb": peak}
    if args.quality and args.tuned_model.is_dir():
        result["tuned_quality"] = tuned_quality(args.tuned_model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    slow = [r for r in rows if r.get("speedup", CACHED_SPEEDUP_TARGET) < CACHED_SPEEDUP_TARGET]
    for r in slow:
        print(
            f"FAIL: cached Sentence-BERT only x{r['speedup']:.1f} faster at n={r['n']} "
            f"(target x{CACHED_SPEEDUP_TARGET:.0f})"
        )
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
