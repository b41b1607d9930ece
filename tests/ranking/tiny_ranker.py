"""A tiny learned ranker saved as the `ranker` stage saves it, for the CLI and service tests."""

from __future__ import annotations

from pathlib import Path

from shortlister.data.clean import clean_candidates
from shortlister.data.default.build import generate_default_dataset
from shortlister.data.default.config import GenerateConfig
from shortlister.data.writers import write_csv
from shortlister.evaluation.trec import qrels_from_frame
from shortlister.ranking.features import FeatureConfig, build_pool_index, score_queries
from shortlister.ranking.ltr.config import LtrConfig
from shortlister.ranking.ltr.io import save_ranker
from shortlister.ranking.ltr.lists import build_lists
from shortlister.ranking.ltr.train import train_ranker
from tests.ranking.test_ltr import HashEmbedder


def write_pool(root: Path):
    """A generated 500-candidate pool as `root/candidates.csv`; (csv path, dataset)."""
    data = generate_default_dataset(GenerateConfig(n_candidates=500, n_queries=10))
    csv = root / "candidates.csv"
    write_csv(data.candidates, csv)
    return csv, data


def train_tiny_ranker(root: Path, data, name: str = "ranknet") -> Path:
    """A ranker of loss `name` (hashed encoder, 3 epochs) in `root/models/ranker/<name>`."""
    pool = clean_candidates(data.candidates).clean.reset_index(drop=True)
    queries, qrels = data.queries.reset_index(drop=True), qrels_from_frame(data.qrels)
    cfg = FeatureConfig(vectors=[], candidates_per_query=40)
    index = build_pool_index(pool, cfg, sbert=HashEmbedder())
    qs = score_queries(index, queries["query"].tolist(), HashEmbedder())
    lists = build_lists(index, qs, queries["query_id"].tolist(), qrels, cfg)
    ltr = LtrConfig(name=name, loss=name, hidden_sizes=[8], epochs=3, patience=3, seed=7)
    result = train_ranker(lists, [], ltr, cfg.names(HashEmbedder.dim))
    out = root / "models" / "ranker" / name
    save_ranker(out, result, ltr, cfg)
    return out
