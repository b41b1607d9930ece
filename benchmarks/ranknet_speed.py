"""RankNet / LambdaRank speed: training throughput and per-query inference latency.

    python benchmarks/ranknet_speed.py                        # 10k candidates, 50 repeats
    python benchmarks/ranknet_speed.py --repeats 100 --out reports/benchmarks/ranknet.json

A pool of generated headlines (the default-dataset generator, cleaned) is indexed once,
as a service would (candidate vectors, fitted TF-IDF and BM25, headline segments). Then:

* training: pairs/s of the training loop (forward, loss over all pairs, backward, step)
  on the generated training queries, per loss;
* inference: one query against every candidate of the pool, end to end (query encoding
  with the Sentence-BERT cache off, all features, the model), and the re-ranking search
  (top-N union, features and model on that list only), p50 and p99 over repeats.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import yaml

from shortlister.core.logs import configure_logging
from shortlister.data.clean import clean_candidates
from shortlister.data.default.build import generate_default_dataset
from shortlister.data.default.config import GenerateConfig
from shortlister.embeddings.base import build_embedder
from shortlister.evaluation.trec import qrels_from_frame
from shortlister.ranking.features import build_pool_index, score_queries
from shortlister.ranking.ltr.config import RankerConfig
from shortlister.ranking.ltr.lists import build_lists
from shortlister.ranking.ltr.ranker import LtrRanker
from shortlister.ranking.ltr.train import train_ranker

ROOT = Path(__file__).resolve().parents[1]


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = 1000.0 * np.asarray(seconds)
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def timed_repeats(fn, repeats: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=5, help="training epochs timed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--config", type=Path, default=ROOT / "conf" / "ranker" / "ranknet.yaml")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    configure_logging("WARNING")
    torch.set_num_threads(args.threads)

    ranker_cfg = yaml.safe_load(args.config.read_text())
    ranker_cfg.pop("encoder", None)  # a method key for the stage; here feat_cfg.sbert is used
    ltr_cfg, feat_cfg = RankerConfig.from_config(ranker_cfg)
    data = generate_default_dataset(GenerateConfig(n_candidates=args.candidates, n_queries=60))
    pool = clean_candidates(data.candidates).clean.reset_index(drop=True)
    qrels = qrels_from_frame(data.qrels)
    sbert = build_embedder(feat_cfg.sbert)  # cached vectors: indexing is not what we time
    t0 = time.perf_counter()
    index = build_pool_index(pool, feat_cfg, sbert=sbert)
    index_s = time.perf_counter() - t0

    figures: dict = {"n_candidates": len(pool), "threads": args.threads, "index_s": index_s}
    queries = data.queries
    train_q = queries[queries["split"] == "train"]
    qs = score_queries(index, train_q["query"].tolist(), sbert)
    lists = build_lists(index, qs, train_q["query_id"].tolist(), qrels, feat_cfg)
    names = feat_cfg.names(index.sbert.shape[1])
    trained = None
    for loss in ("ranknet", "lambdarank"):
        cfg = replace(ltr_cfg, loss=loss, epochs=args.epochs, patience=args.epochs,
                      threads=args.threads)  # fmt: skip
        result = train_ranker(lists, [], cfg, names)
        trained = trained or result
        figures[f"train_{loss}"] = {
            "pairs_per_s": result.pairs_per_second,
            "pairs_per_epoch": result.n_pairs,
            "seconds_per_epoch": result.train_seconds / args.epochs,
        }

    # A fresh encoder without the content-hash cache: every request really encodes.
    cold = build_embedder({**feat_cfg.sbert, "cache_dir": None})
    ranker = LtrRanker(trained.model, trained.scaler, feat_cfg, cold, "bench")
    texts = queries["query"].tolist()
    counter = iter(range(10**9))

    def next_query() -> str:
        return texts[next(counter) % len(texts)]

    figures["score_all"] = percentiles(
        timed_repeats(lambda: ranker.score(next_query(), index), args.repeats)
    )
    figures["search_rerank"] = percentiles(
        timed_repeats(lambda: ranker.search(next_query(), index, k=10), args.repeats)
    )
    vector = cold.encode([texts[0]])
    everyone = np.arange(len(pool))

    def features_and_model() -> np.ndarray:
        one = score_queries(index, [texts[0]], cold, vectors=vector)
        return ranker.score_rows(index, one, 0, everyone)

    figures["features_model"] = percentiles(timed_repeats(features_and_model, args.repeats))
    figures["encode_query"] = percentiles(
        timed_repeats(lambda: cold.encode([next_query()]), args.repeats)
    )
    print(f"pool: {len(pool)} candidates, indexed in {index_s:.1f}s, torch threads {args.threads}")
    for loss in ("ranknet", "lambdarank"):
        f = figures[f"train_{loss}"]
        print(
            f"train {loss:10s}: {f['pairs_per_s']:,.0f} pairs/s "
            f"({f['pairs_per_epoch']:,} pairs/epoch, {f['seconds_per_epoch']:.2f} s/epoch)"
        )
    for key, label in (
        ("score_all", f"score all {len(pool)} candidates (query encode + features + model)"),
        ("search_rerank", "re-ranking search (top-N union only)"),
        ("encode_query", "  of which Sentence-BERT query encoding"),
        ("features_model", "  of which features + model, all candidates"),
    ):
        f = figures[key]
        print(f"{label}: p50 {f['p50_ms']:.1f} ms, p99 {f['p99_ms']:.1f} ms")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
