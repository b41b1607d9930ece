"""The sliding window, with a scripted backend that ranks by a known score."""

from __future__ import annotations

import re

import pytest

from shortlister.llm.backends import Generation
from shortlister.llm.parse import ParseResult
from shortlister.llm.rerank import LLMReranker, RerankResult, RerankStats, windows


class ByNumber:
    """Answers every prompt by ranking its ids by their number, highest first."""

    name = "scripted"

    def __init__(self, answer=None) -> None:
        self.batches: list[int] = []
        self.sizes: list[int] = []
        self.answer = answer

    def render(self, messages) -> str:
        return messages[-1]["content"]

    def generate(self, batch):
        self.batches.append(len(batch))
        out = []
        for messages in batch:
            ids = re.findall(r"^(c\d+): ", messages[-1]["content"], flags=re.M)
            self.sizes.append(len(ids))
            best = sorted(ids, key=lambda c: -int(c[1:]))
            text = self.answer or "Ranking: " + ", ".join(best)
            out.append(Generation(text, latency_s=0.5, prompt_tokens=100, completion_tokens=10))
        return out


def test_windows_start_at_the_bottom_and_reach_the_top():
    assert windows(20, 10, 5) == [(10, 20), (5, 15), (0, 10)]
    assert windows(22, 10, 5) == [(12, 22), (7, 17), (2, 12), (0, 7)]  # RankGPT would skip 0-1
    assert windows(4, 10, 5) == [(0, 4)]
    with pytest.raises(ValueError):
        windows(10, 4, 4)


def test_the_best_candidate_bubbles_up_from_the_bottom_of_the_head():
    cands = [(f"c{i}", f"title {i}") for i in range(1, 31)]  # c20 is the best within depth 20
    backend = ByNumber()
    result = LLMReranker(backend, window=10, step=5, depth=20).rerank("q", cands)
    assert result.ids[0] == "c20"
    assert result.ids[20:] == [f"c{i}" for i in range(21, 31)]  # tail untouched
    assert sorted(result.ids) == sorted(c for c, _ in cands)
    assert max(backend.sizes) == 10 and result.n_calls == 3  # bounded prompts


def test_many_queries_share_batches():
    cands = [(f"c{i}", f"t{i}") for i in range(1, 13)]
    backend = ByNumber()
    results = LLMReranker(backend, window=6, step=3, depth=12).rerank_many(
        [("a", cands), ("b", cands[:5]), ("c", cands)]
    )
    assert backend.batches == [3, 2, 2]  # query b (5 candidates) needs one window
    assert [r.n_calls for r in results] == [3, 1, 3]
    assert results[1].ids == ["c5", "c4", "c3", "c2", "c1"]


def test_stats_report_the_repair_share():
    cands = [(f"c{i}", f"t{i}") for i in range(1, 6)]
    clean = LLMReranker(ByNumber(), window=5, step=2, depth=5).rerank("q", cands)
    messy = LLMReranker(ByNumber("c2 then c9"), window=5, step=2, depth=5).rerank("q", cands)
    assert messy.ids == ["c2", "c1", "c3", "c4", "c5"]
    stats = RerankStats.of([clean, messy])
    assert stats.n_calls == 2 and stats.repair_share == 0.5 and stats.answer_line_share == 0.5
    assert stats.mean_latency_s == 0.5 and stats.prompt_tokens == 200
    assert stats.n_unknown == 1 and stats.n_filled == 4


def test_empty_stats():
    stats = RerankStats.of([RerankResult(ids=["c1"])])
    assert stats.n_calls == 0 and stats.repair_share == 0.0


def test_duplicate_candidates_are_an_error():
    with pytest.raises(ValueError, match="distinct"):
        LLMReranker(ByNumber()).rerank("q", [("c1", "a"), ("c1", "b")])


def test_parse_results_are_kept_per_call():
    cands = [(f"c{i}", f"t{i}") for i in range(1, 9)]
    result = LLMReranker(ByNumber(), window=4, step=2, depth=8).rerank("q", cands)
    assert all(isinstance(p, ParseResult) and p.clean for p in result.parses)
