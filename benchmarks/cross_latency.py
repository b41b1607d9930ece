"""Cross-encoder cost on CPU: re-ranking the top 50 / top 100 for one query.

    python benchmarks/cross_latency.py                       # models/cross-encoder
    python benchmarks/cross_latency.py --depths 20 50 100 --repeats 30 --threads 2

For each backend (torch, onnx, onnx-int8) and depth N: one query at a time, its N
candidates N headlines drawn (seeded) from the default pool (real headlines, real
lengths: the cost depends on token counts, not on which headlines), scored `--repeats`
times after a warm-up; p50 / p90 milliseconds per query and pairs per second. Also the
training time and steps from reports/cross/train.json. Writes `--out`
(reports/benchmarks/cross_latency.json).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from shortlister.core.logs import configure_logging
from shortlister.cross.scorer import CrossScorer

logger = logging.getLogger("cross_latency")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", default="models/cross-encoder")
    parser.add_argument("--pool", default="data/interim/candidates.parquet")
    parser.add_argument("--queries", default="data/raw/default/queries.tsv")
    parser.add_argument("--depths", type=int, nargs="+", default=[50, 100])
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx", "onnx-int8"])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--n-queries", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="0: the library's default")
    parser.add_argument("--max-length", type=int, default=48)
    parser.add_argument("--out", default="reports/benchmarks/cross_latency.json")
    args = parser.parse_args(argv)
    configure_logging()
    pool = pd.read_parquet(args.pool, columns=["title"])["title"].tolist()
    queries = pd.read_csv(args.queries, sep="\t")["query"].tolist()[: args.n_queries]
    rng = np.random.default_rng(13)
    rows = []
    for backend in args.backends:
        scorer = CrossScorer(args.model_dir, backend, args.max_length, 256, args.threads)
        for depth in args.depths:
            times = []
            for query in queries:
                texts = [pool[i] for i in rng.choice(len(pool), size=depth, replace=False)]
                scorer.score(query, texts)  # warm-up: shapes, allocator
                for _ in range(max(1, args.repeats // len(queries))):
                    t0 = time.perf_counter()
                    scorer.score(query, texts)
                    times.append(1000.0 * (time.perf_counter() - t0))
            times = np.array(times)
            row = {
                "backend": backend,
                "depth": depth,
                "p50_ms": round(float(np.median(times)), 2),
                "p90_ms": round(float(np.percentile(times, 90)), 2),
                "pairs_per_second": round(depth / (np.median(times) / 1000.0), 1),
                "n_timed": len(times),
            }
            logger.info("%s", row)
            rows.append(row)
    train = Path("reports/cross/train.json")
    out = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "threads": args.threads,
        },
        "model_dir": args.model_dir,
        "max_length": args.max_length,
        "rows": rows,
        "training": json.loads(train.read_text()) if train.is_file() else None,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
