"""The pointwise scorer on a tiny random Gemma-3: batching, padding and the kept tail."""

from __future__ import annotations

import math

import pytest

from shortlister.llm.config import LLMConfig
from shortlister.llm.pointwise import PointwiseReranker
from shortlister.llm.rerank import build_reranker

CANDS = [("c1", "Registered Nurse"), ("c2", "Teacher"), ("c3", "Human Resources Generalist"),
         ("c4", "Software Engineer"), ("c5", "Nurse")]  # fmt: skip


@pytest.fixture(scope="module")
def reranker(tiny_gemma):
    cfg = LLMConfig.from_config(
        {
            "model": str(tiny_gemma),
            "adapter": None,
            "device": "cpu",
            "scorer": "pointwise",
            "depth": 4,
            "pointwise": {"batch_size": 3},
        }  # fmt: skip
    )
    return build_reranker(cfg)


def test_build_reranker_gives_the_pointwise_scorer(reranker):
    assert isinstance(reranker, PointwiseReranker) and reranker.depth == 4
    assert "Candidate headline: Teacher" in reranker.render("nurse", "Teacher")


def test_a_score_does_not_depend_on_its_batch_or_padding(reranker):
    """Left padding with position ids from the mask: a short pair scores the same alone
    as next to a much longer one."""
    short = ("nurse", "Nurse")
    long = ("human resources generalist", "Senior Software Engineer | " * 6)
    [alone] = reranker.score([short])
    together = reranker.score([long, short])
    assert math.isfinite(alone) and alone == pytest.approx(together[1], abs=1e-4)


def test_rerank_sorts_the_head_and_keeps_the_tail(reranker):
    result = reranker.rerank("nurse", CANDS)
    assert sorted(result.ids[:4]) == ["c1", "c2", "c3", "c4"] and result.ids[4] == "c5"
    scores = reranker.score([("nurse", t) for _, t in CANDS[:4]])
    expected = sorted(range(4), key=lambda i: (-scores[i], i))
    assert result.ids[:4] == [CANDS[i][0] for i in expected]


def test_many_queries_share_batches(reranker):
    before = reranker.stats.n_batches
    results = reranker.rerank_many([("nurse", CANDS), ("teacher", CANDS[:2])])
    assert [len(r.ids) for r in results] == [5, 2]
    assert reranker.stats.n_batches - before == 2  # 4 + 2 pairs in batches of 3
