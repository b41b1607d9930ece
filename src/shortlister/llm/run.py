"""LLM re-ranking of a pool for a list of queries (`shortlister rank --method llm`).

A first stage (an embedding method or a learned re-ranker) ranks the pool for each
query; the re-ranker `llm.scorer` names re-orders each query's top `llm.depth`
(`candidates.candidate_lists`, as the `llm` stage does); the answer is a TREC run of
the top `top_k` with rank-derived scores, and one line on what the re-ranking cost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from shortlister.evaluation.trec import Run
from shortlister.llm.candidates import candidate_lists, title_map
from shortlister.llm.config import LLMConfig
from shortlister.llm.rerank import LLMReranker, RerankResult, RerankStats, load_reranker

# search(query, k) -> the pool's rows of the best k, best first
Search = Callable[[str, int], Sequence[int]]


def first_stage_search(
    pool: pd.DataFrame, *, method: Mapping[str, Any] | None = None, ltr: Any = None
) -> Search:
    """A learned re-ranker's search (`ltr`, loaded) or an embedding method's (`method`, its
    `methods.<name>` config; the pool is encoded now)."""
    if ltr is not None:
        return lambda query, k: ltr.search(query, pool, k=k)[0]
    from shortlister.ranking.pool import CandidatePool

    ranker = CandidatePool.fit(pool, method)
    return lambda query, k: ranker.search(query, [], k=k)[0]


def first_stage_run(
    pool: pd.DataFrame, queries: Sequence[tuple[str, str]], search: Search, k: int
) -> Run:
    """{query_id: the first stage's top k ids (rank-derived scores)} of (query_id, query)."""
    ids = pool["id"].tolist()
    run: Run = {}
    for qid, query in queries:
        order = [ids[i] for i in search(query, k)]
        run[qid] = [(cid, float(len(order) - r)) for r, cid in enumerate(order)]
    return run


@dataclass
class QueryRerank:
    """The re-ranked top of each query, and one line on what it took."""

    run: Run  # {query_id: [(candidate id, score)]}: top_k for the first, one less per position
    summary: str


def rerank_queries(
    pool: pd.DataFrame,
    queries: Sequence[tuple[str, str]],
    cfg: LLMConfig,
    search: Search,
    top_k: int,
) -> QueryRerank:
    """The first stage's top `depth` of each (query_id, query) re-ranked by the LLM.

    ModelUnavailable (a ConfigError) when the model cannot be had here; nothing is loaded
    or downloaded before that check.
    """
    reranker = load_reranker(cfg)
    n = max(top_k, cfg.depth)
    first = first_stage_run(pool, queries, search, n)
    items = candidate_lists(queries, first, title_map(pool), n)
    results = reranker.rerank_many(items)
    run = {
        qid: [(cid, float(top_k - r)) for r, cid in enumerate(result.ids[:top_k])]
        for (qid, _), result in zip(queries, results, strict=True)
    }
    return QueryRerank(run, summary(reranker, results, cfg.depth, len(queries)))


def summary(reranker: Any, results: Sequence[RerankResult], depth: int, n_queries: int) -> str:
    """`llm: <re-ranker> re-ranked the top <depth> for <n> queries in ...`: calls and repairs
    (listwise), or the seconds spent scoring (pointwise)."""
    n = f"{n_queries} quer{'y' if n_queries == 1 else 'ies'}"
    if isinstance(reranker, LLMReranker):
        stats = RerankStats.of(results)
        return (
            f"llm: {reranker.name} re-ranked the top {depth} for {n} in {stats.n_calls} "
            f"calls ({stats.mean_latency_s:.2f}s each); "
            f"{stats.repair_share:.0%} of the answers needed repair"
        )
    seconds = sum(r.latency_s for r in results)
    return f"llm: {reranker.name} scored the top {depth} for {n} in {seconds:.2f}s"
