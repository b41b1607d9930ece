"""A candidate pool embedded once, searched many times (CLI, service, evaluation)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shortlister.embeddings.base import Embedder, Matrix, build_embedder
from shortlister.evaluation.trec import Run, read_queries, write_run
from shortlister.ranking.cosine import cosine_scores, rank, top_k
from shortlister.ranking.starred import StarConfig, pin_starred, star_indices, starred_scores


@dataclass
class Ranker:
    pool: pd.DataFrame  # cleaned candidates: id, title, ...
    embedder: Embedder
    matrix: Matrix

    @classmethod
    def fit(cls, pool: pd.DataFrame, method_cfg: Mapping[str, Any]) -> Ranker:
        titles = pool["title"].tolist()
        embedder = build_embedder(method_cfg).fit(titles)
        return cls(pool.reset_index(drop=True), embedder, embedder.encode(titles))

    @property
    def ids(self) -> list[str]:
        return self.pool["id"].tolist()

    def search(
        self,
        query: str | None,
        stars: Sequence[str] = (),
        *,
        k: int = 10,
        star_weight: float = 0.5,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(row order, scores): starred candidates first, then the best of the rest."""
        cfg = StarConfig(star_weight=star_weight)
        idx = star_indices(self.ids, stars, cfg.max_stars)
        qvec = None if query is None or not query.strip() else self.embedder.encode([query])
        scores = starred_scores(self.matrix, qvec, idx, cfg)
        order = pin_starred(top_k(scores, k + len(idx)), idx)[: max(k, len(idx))]
        return order, scores

    def batch(self, queries: pd.DataFrame, k: int) -> Run:
        scores = cosine_scores(self.matrix, self.embedder.encode(queries["query"].tolist()))
        ids = self.ids
        return {qid: rank(ids, scores[i], k) for i, qid in enumerate(queries["query_id"])}

    def write_batch_run(
        self, queries_path: str | Path, out: str | Path, *, top_k: int, tag: str
    ) -> int:
        queries = read_queries(queries_path)
        write_run(out, self.batch(queries, top_k), tag=tag)
        return len(queries)
