"""Candidate lists for the LLM: a first stage's top ids with their titles, per query.

Re-ranking (the `llm` stage, `shortlister rank --method llm`) hands the re-ranker each
query's first-stage head as `(id, title)` pairs; fine-tuning draws its hard negatives
from the same heads. All of them build the lists here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from shortlister.core.errors import DataError
from shortlister.evaluation.trec import Run
from shortlister.llm.prompts import Candidate


def title_map(candidates: pd.DataFrame | Mapping[str, str]) -> dict[str, str]:
    """{id: title} of a pool (a frame with `id` and `title`, or a mapping already)."""
    if isinstance(candidates, pd.DataFrame):
        return dict(zip(candidates["id"].astype(str), candidates["title"].astype(str), strict=True))
    return {str(k): str(v) for k, v in candidates.items()}


def head_ids(run: Run | None, query_id: str, depth: int) -> list[str]:
    """The first `depth` ids `run` ranks for `query_id` ([] when it ranks none)."""
    return [cid for cid, _ in (run or {}).get(query_id, [])[:depth]]


def candidate_lists(
    queries: Sequence[tuple[str, str]],
    run: Run,
    titles: Mapping[str, str],
    depth: int,
    *,
    source: str | Path | None = None,
    pool: str = "candidate",
) -> list[tuple[str, list[Candidate]]]:
    """(query, [(id, title)] of the run's top `depth`) per (query_id, query), in order.

    A query the run does not rank, or a ranked id missing from `titles`, is a DataError
    naming `source` (the run file) and the `pool`.
    """
    items = []
    for qid, query in queries:
        if qid not in run:
            raise DataError(f"no ranking for query '{qid}'", path=source, field="query_id")
        head = head_ids(run, qid, depth)
        missing = [cid for cid in head if cid not in titles]
        if missing:
            raise DataError(f"candidates {missing[:5]} are not in the {pool} pool", path=source)
        items.append((query, [(cid, titles[cid]) for cid in head]))
    return items
