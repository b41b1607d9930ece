"""The default dataset, built and written (stage build_default): candidates.csv,
queries.tsv, qrels.txt (TREC) and labels.csv, all from `GenerateConfig.seed`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from shortlister.data.default.candidates import sample_candidates
from shortlister.data.default.config import SPLITS, GenerateConfig
from shortlister.data.default.judgments import build_qrels
from shortlister.data.default.queries import assign_splits, choose_queries
from shortlister.data.default.title_pool import title_pool
from shortlister.data.sources import load_bls_titles
from shortlister.data.writers import write_csv, write_queries
from shortlister.evaluation.trec import qrels_from_frame, write_qrels

logger = logging.getLogger(__name__)


@dataclass
class DefaultDataset:
    candidates: pd.DataFrame  # id, title, location, screening_score (float, NaN when missing)
    queries: pd.DataFrame  # query_id, query, split
    qrels: pd.DataFrame  # query_id, candidate_id, grade (1-3; absent pairs are grade 0)
    labels: pd.DataFrame  # id, occupation, category, title_source: ground truth, not for rankers


def generate_default_dataset(cfg: GenerateConfig) -> DefaultDataset:
    """Build the default candidate pool, queries and graded judgments from `cfg.seed`."""
    pool_seed, rows_seed, query_seed, split_seed = np.random.SeedSequence(cfg.seed).spawn(4)
    pool, held_out = title_pool(load_bls_titles(), cfg.hr_boost, np.random.default_rng(pool_seed))
    rows = sample_candidates(pool, cfg, np.random.default_rng(rows_seed))
    candidates = rows[["id", "title", "location", "screening_score"]].copy()
    real = rows[rows["occupation"] != ""]
    labels = real[["id", "occupation", "category", "raw"]].rename(columns={"raw": "title_source"})
    labels = labels.reset_index(drop=True)
    queries = choose_queries(
        labels, list(candidates["title"]), held_out, cfg, np.random.default_rng(query_seed)
    )
    queries["split"] = assign_splits(
        list(queries["query_id"]), cfg.split_fractions, np.random.default_rng(split_seed)
    )
    qrels = build_qrels(queries, labels)
    logger.info(
        "default dataset: %d candidates (%d distinct titles), %d queries, %d judgments",
        len(candidates),
        candidates["title"].nunique(),
        len(queries),
        len(qrels),
    )
    return DefaultDataset(
        candidates=candidates,
        queries=queries[["query_id", "query", "split"]].copy(),
        qrels=qrels,
        labels=labels,
    )


def write_default_dataset(ds: DefaultDataset, out_dir: Path) -> dict[str, int]:
    """Write candidates.csv, queries.tsv, qrels.txt (TREC) and labels.csv; return counts."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(
        ds.candidates[["id", "title", "location", "screening_score"]], out_dir / "candidates.csv"
    )
    write_queries(ds.queries, out_dir / "queries.tsv")
    write_qrels(out_dir / "qrels.txt", qrels_from_frame(ds.qrels))
    write_csv(ds.labels[["id", "occupation", "category", "title_source"]], out_dir / "labels.csv")
    counts = {
        "candidates": len(ds.candidates),
        "queries": len(ds.queries),
        "qrels": len(ds.qrels),
        "labels": len(ds.labels),
    }
    for split in SPLITS:
        counts[f"queries_{split}"] = int((ds.queries["split"] == split).sum())
    logger.info("wrote default dataset to %s: %s", out_dir, counts)
    return counts
