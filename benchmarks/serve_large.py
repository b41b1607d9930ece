"""The real service over a large stored pool: start-up, memory and /rank latency over HTTP.

    python benchmarks/serve_large.py --n 20000                 # minutes (encoding, index)
    python benchmarks/serve_large.py --n 200000 --max-real 20000   # reuses 20k encoded titles
    python benchmarks/serve_large.py                           # 1M rows: ~10 min of index build

Builds once, cached under `--work` (default .cache/bench/serve-<n>, in the repository), a pool
of n rows laid out as the pipeline lays it out (data/interim/candidates.parquet;
data/processed/embeddings/<method>/default.npy + .ids.txt; models/<method>/default;
models/index/<method>/default, built with the configured default `IndexConfig()`):
titles are the distinct real titles of `shortlister.data.title_corpus.real_titles()`
(shuffled with seed 0, as benchmarks/ann_latency.py does), cycled with a " #<k>" suffix
when n is larger; vectors are those titles' own vectors from the selected encoder
(sbert-tuned, `--model-dir`; the packaged MiniLM `sbert` when it is absent, said in the
JSON), and a cycled row's vector is its title's plus noise (`--noise`, renormalised).

Then starts `python -m shortlister.cli serve` in a subprocess on a params file whose
paths point there (index.min_pool: min(n, the default) so the pool goes through the
index) and reports: seconds until /health answers, the server's RSS after start-up and
after the /rank requests (psutil), /health's payload, and p50/p90 of /rank over HTTP
without a star (a new query: encoded, searched) and with one (the star toggle: the query
is cached, one search with the blended vector). `--out` (reports/benchmarks/serve_large.json)
keeps one run per n. Encoded titles come from Sentence-BERT's disk cache when there.
`--max-real` caps the real titles (the rest cycle them), for a larger n without encoding more.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import yaml

from shortlister.core.cache import cache_dir

ROOT = Path(__file__).resolve().parents[1]
QUERIES = [
    "registered nurse", "software engineer", "human resources manager", "data scientist",
    "payroll specialist", "truck driver", "elementary school teacher", "accountant",
    "sales representative", "mechanical engineer", "pharmacist", "chef", "electrician",
    "marketing manager", "recruiter", "financial analyst", "welder", "graphic designer",
    "customer service representative", "project manager", "dental hygienist", "paralegal",
    "warehouse associate", "physical therapist", "web developer",
]  # fmt: skip
LOCATIONS = ["Houston, Texas", "New York, New York", "Chicago, Illinois", "Denver, Colorado"]


def encoder(model_dir: Path) -> tuple[dict, str]:
    if (model_dir / "config.json").is_file():
        return {"name": "sbert-tuned", "model": str(model_dir)}, f"sbert-tuned ({model_dir})"
    return {"name": "sbert"}, f"sbert (packaged MiniLM): {model_dir} has no trained title encoder"


def write_vectors(path: Path, real: np.ndarray, n: int, noise: float, seed: int = 0) -> None:
    """n unit rows into a .npy: the real ones, then row i = real[i % R] + noise (chunks)."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, real.shape[1]))
    m = min(n, len(real))
    out[:m] = real[:m]
    rng = np.random.default_rng(seed)
    for start in range(m, n, 200_000):
        stop = min(start + 200_000, n)
        base = real[np.arange(start, stop) % len(real)]
        g = rng.standard_normal(base.shape, dtype=np.float32)
        g *= noise / np.linalg.norm(g, axis=1, keepdims=True)
        block = base + g
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    out.flush()
    del out


def build(work: Path, args: argparse.Namespace) -> dict:
    """The pipeline's layout of an n-row pool under `work` (kept: built.json says what)."""
    stamp = work / "built.json"
    method_cfg, note = encoder(args.model_dir)
    want = {"n": args.n, "encoder": note, "noise": args.noise, "max_real": args.max_real}
    if stamp.is_file():
        built = json.loads(stamp.read_text())
        if {k: built.get(k) for k in want} == want:
            print(f"reusing the pool built in {work}", flush=True)
            return built
    from shortlister.data.title_corpus import real_titles
    from shortlister.embeddings.base import build_embedder, load_embedder
    from shortlister.index.ann import AnnIndex
    from shortlister.index.config import IndexConfig
    from shortlister.ranking.indexed import embedder_hash

    t0 = time.perf_counter()
    corpus = real_titles(args.shared)
    order = np.random.default_rng(0).permutation(len(corpus.titles))
    real_count = min(args.n, len(order), args.max_real or len(order))
    titles = [corpus.titles[i] for i in order[:real_count]]
    method = method_cfg["name"]
    embedder = build_embedder(method_cfg).fit([])
    print(f"encoding {real_count} real titles with {method}", flush=True)
    real = np.asarray(embedder.encode(titles), dtype=np.float32)
    encode_s = time.perf_counter() - t0

    interim, models = work / "data/interim", work / "models"
    stem = work / "data/processed/embeddings" / method / "default"
    for folder in (interim, stem.parent):
        folder.mkdir(parents=True, exist_ok=True)
    ids = [f"c{i:07d}" for i in range(args.n)]
    names = [
        titles[i % real_count] + ("" if i < real_count else f" #{i // real_count}")
        for i in range(args.n)
    ]
    frame = pd.DataFrame(
        {
            "id": ids,
            "title": names,
            "title_raw": names,
            "location": [LOCATIONS[i % len(LOCATIONS)] for i in range(args.n)],
            "screening_score": (np.arange(args.n) % 100).astype(np.float64),
        }
    )
    frame.to_parquet(interim / "candidates.parquet", index=False)
    del frame, names
    write_vectors(stem.with_suffix(".npy"), real, args.n, args.noise)
    Path(f"{stem}.ids.txt").write_text("\n".join(ids) + "\n")
    embedder.save(models / method / "default")
    model_hash = embedder_hash(load_embedder(models / method / "default"))  # as served
    matrix = np.load(stem.with_suffix(".npy"), mmap_mode="r")
    print(f"building the {IndexConfig().backend} index of {args.n} rows", flush=True)
    index = AnnIndex.build(matrix, IndexConfig(), model_hash)
    index.save(models / "index" / method / "default")
    built = {
        **want,
        "method": method,
        "real_titles": len(corpus.titles),
        "real_titles_used": real_count,
        "title_sources": corpus.counts,
        "sources_missing": corpus.missing,
        "encode_s": round(encode_s, 1),
        "index_build_s": index.manifest.build_s,
        "index_bytes": index.manifest.nbytes,
        "build_s": round(time.perf_counter() - t0, 1),
    }
    stamp.write_text(json.dumps(built, indent=2) + "\n")
    return built


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict) -> tuple[float, dict]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = json.loads(response.read())
    return 1000 * (time.perf_counter() - t0), payload


def measure(work: Path, built: dict, args: argparse.Namespace) -> dict:
    from shortlister.index.config import IndexConfig

    port = free_port()
    min_pool = min(args.n, IndexConfig().min_pool)
    params = {
        "paths": {
            "interim": str(work / "data/interim"),
            "embeddings": str(work / "data/processed/embeddings"),
            "models": str(work / "models"),
        },
        "serve": {"methods": [built["method"]], "fit_methods": [], "port": port},
        "index": {"min_pool": min_pool},
    }
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    cmd = [sys.executable, "-m", "shortlister.cli", "--log-level", "WARNING", "serve",
           "--params", str(work / "params.yaml")]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    log = (work / "server.log").open("w")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=1) as response:
                    health = json.loads(response.read())
                with urllib.request.urlopen(f"{base}/methods", timeout=10) as response:
                    methods = json.loads(response.read())["methods"]
                break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - t0 > args.timeout:
                    raise SystemExit(
                        f"the service did not start; see {work / 'server.log'}"
                    ) from None
                time.sleep(0.05)
        startup_s = time.perf_counter() - t0
        server = psutil.Process(proc.pid)
        rss_start = server.memory_info()
        plain, starred, server_ms = [], [], {"plain": [], "starred": []}
        queries = (QUERIES * (1 + args.requests // (2 * len(QUERIES))))[: args.requests // 2]
        for i, query in enumerate(queries):
            query = query if i < len(QUERIES) else f"{query} {i // len(QUERIES)}"
            ms, result = post(f"{base}/rank", {"query": query, "top_k": 20})
            plain.append(ms)
            server_ms["plain"].append(result["timing"]["total_ms"])
            star = result["items"][4]["id"]
            ms, result = post(f"{base}/rank", {"query": query, "top_k": 20, "stars": [star]})
            assert result["items"][0]["id"] == star and result["timing"]["query_cached"]
            starred.append(ms)
            server_ms["starred"].append(result["timing"]["total_ms"])
        rss_after = server.memory_info()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()

    def mb(info) -> dict[str, float]:
        return {
            "rss": round(info.rss / 2**20, 1),
            "anon": round((info.rss - info.shared) / 2**20, 1),
            "file_backed": round(info.shared / 2**20, 1),
        }

    def p(values: list[float], q: float) -> float:
        return round(float(np.percentile(values, q)), 2)

    return {
        "index_min_pool": min_pool,
        "startup_s": round(startup_s, 2),
        # RSS = anonymous memory + resident pages of mapped files (the memory-mapped
        # embeddings, libraries): those are the page cache's, dropped under pressure.
        "rss_mb_after_startup": mb(rss_start),
        "rss_mb_after_requests": mb(rss_after),
        "requests": len(plain) + len(starred),
        "rank_http_ms": {
            "no_star": {"p50": p(plain, 50), "p90": p(plain, 90)},
            "one_star": {"p50": p(starred, 50), "p90": p(starred, 90)},
        },
        "rank_server_total_ms_p50": {
            "no_star": round(statistics.median(server_ms["plain"]), 2),
            "one_star": round(statistics.median(server_ms["starred"]), 2),
        },
        "health": health,
        "method_load_s": {m["name"]: m["load_seconds"] for m in methods},
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, help="[default: .cache/bench/serve-<n>]")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/benchmarks/serve_large.json")
    parser.add_argument("--model-dir", type=Path, default=ROOT / "models/title-encoder")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared/data")
    parser.add_argument("--noise", type=float, default=0.35)
    parser.add_argument(
        "--max-real", type=int, help="use at most this many real titles (then cycle them)"
    )
    parser.add_argument("--requests", type=int, default=50, help="/rank requests (half starred)")
    parser.add_argument("--timeout", type=float, default=600.0, help="start-up limit, seconds")
    args = parser.parse_args(argv)
    # Absolute: the service it starts runs in this folder and reads the paths written here.
    work = (args.work or ROOT / cache_dir("bench") / f"serve-{args.n}").resolve()
    work.mkdir(parents=True, exist_ok=True)
    built = build(work, args)
    files = {
        "parquet": work / "data/interim/candidates.parquet",
        "embeddings": work / "data/processed/embeddings" / built["method"] / "default.npy",
        "index": work / "models/index" / built["method"] / "default" / "index.faiss",
    }
    result = {
        "n": args.n,
        "method": built["method"],
        "encoder": built["encoder"],
        "titles": f"{built['real_titles_used']} distinct real titles (of {built['real_titles']}: "
        f"{built['title_sources']})"
        + (
            f"; rows beyond them cycle the titles with a ' #<k>' suffix, their vectors the "
            f"title's plus noise of norm {args.noise}, renormalised"
            if args.n > built["real_titles_used"]
            else ""
        ),
        "machine": {"cpus": os.cpu_count(), "load_avg_1m_at_start": round(os.getloadavg()[0], 2)},
        "build": {k: built[k] for k in ("encode_s", "index_build_s", "index_bytes", "build_s")},
        "file_mb": {k: round(v.stat().st_size / 2**20, 1) for k, v in files.items() if v.exists()},
        **measure(work, built, args),
    }
    print(json.dumps(result, indent=2))
    runs = []  # one run per size: a run at another n is kept
    if args.out.is_file():
        runs = [r for r in json.loads(args.out.read_text()).get("runs", []) if r["n"] != args.n]
    report = {
        "what": "benchmarks/serve_large.py: the real service (python -m shortlister.cli "
        "serve) over a stored pool of n rows searched through its stored ANN index",
        "runs": sorted([*runs, result], key=lambda r: r["n"]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
