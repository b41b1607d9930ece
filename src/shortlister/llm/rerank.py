"""Listwise LLM re-ranking of a long list with a sliding window (RankGPT, Sun et al. 2023).

The top `depth` candidates of a first-stage ranking are re-ranked `window` at a time,
starting at the bottom of that list and moving up by `step`: each window's best
candidates move into the next window, so a good candidate can bubble from position
`depth` to the top, while every prompt holds at most `window` candidates however long
the list is. Candidates below `depth` keep their first-stage order.

Windows of different queries are independent, so `rerank_many` sends the n-th window
of every query in one batch to the backend.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shortlister.core.errors import ConfigError
from shortlister.llm.backends import Generation, LLMBackend, backend_available
from shortlister.llm.parse import ParseResult, parse_ranking
from shortlister.llm.prompts import Candidate, PromptTemplate, build_messages

logger = logging.getLogger(__name__)


@dataclass
class RerankResult:
    ids: list[str]  # re-ranked top `depth`, then the untouched tail
    parses: list[ParseResult] = field(default_factory=list)  # one per LLM call
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def n_calls(self) -> int:
        return len(self.parses)


@dataclass
class RerankStats:
    """What a batch of re-rankings cost and how often the answers needed repair."""

    n_queries: int
    n_calls: int
    repair_share: float  # 1 - share of clean answers
    answer_line_share: float
    mean_latency_s: float  # per call
    prompt_tokens: int
    completion_tokens: int
    n_unknown: int
    n_duplicates: int
    n_filled: int

    @classmethod
    def of(cls, results: Sequence[RerankResult]) -> RerankStats:
        parses = [p for r in results for p in r.parses]
        n = len(parses)
        return cls(
            n_queries=len(results),
            n_calls=n,
            repair_share=sum(not p.clean for p in parses) / n if n else 0.0,
            answer_line_share=sum(p.answer_line for p in parses) / n if n else 0.0,
            mean_latency_s=sum(r.latency_s for r in results) / n if n else 0.0,
            prompt_tokens=sum(r.prompt_tokens for r in results),
            completion_tokens=sum(r.completion_tokens for r in results),
            n_unknown=sum(p.n_unknown for p in parses),
            n_duplicates=sum(p.n_duplicates for p in parses),
            n_filled=sum(p.n_filled for p in parses),
        )


def windows(depth: int, window: int, step: int) -> list[tuple[int, int]]:
    """(start, end) slices from the bottom of the top-`depth` list up to position 0."""
    if window < 2 or not 1 <= step < window:
        raise ValueError(f"expected window >= 2 and 1 <= step < window, got {window}, {step}")
    out: list[tuple[int, int]] = []
    end = depth
    while end > 0:
        start = max(end - window, 0)
        out.append((start, end))
        if start == 0:
            break
        end -= step
    return out


@dataclass
class _State:
    """One query in flight: its current order and the windows still to do."""

    query: str
    order: list[Candidate]
    head: int
    todo: list[tuple[int, int]]
    result: RerankResult


class LLMReranker:
    def __init__(
        self,
        backend: LLMBackend,
        template: PromptTemplate | None = None,
        window: int = 10,
        step: int = 5,
        depth: int = 20,
        k: int | None = None,
    ) -> None:
        windows(depth, window, step)  # validates
        self.backend = backend
        self.name = f"listwise:{backend.name}"
        self.template = template or PromptTemplate()
        self.window, self.step, self.depth, self.k = window, step, depth, k

    def messages(self, query: str, candidates: Sequence[Candidate]) -> list[dict[str, str]]:
        k = None if self.k is None else min(self.k, len(candidates))
        return build_messages(query, candidates, self.template, k=k)

    def rerank(self, query: str, candidates: Sequence[tuple[str, str]]) -> RerankResult:
        """Re-rank the top `depth` of `candidates` (id, title), best first; keep the tail."""
        return self.rerank_many([(query, candidates)])[0]

    def rerank_many(
        self, items: Sequence[tuple[str, Sequence[tuple[str, str]]]]
    ) -> list[RerankResult]:
        """Re-rank many (query, candidates) lists; the n-th windows go out as one batch."""
        states = [self._state(q, c) for q, c in items]
        while active := [s for s in states if s.todo]:
            slices = [s.todo.pop(0) for s in active]
            batch = [
                self.messages(s.query, s.order[a:b])
                for s, (a, b) in zip(active, slices, strict=True)
            ]
            gens = self.backend.generate(batch)
            if len(gens) != len(batch):
                raise RuntimeError(
                    f"{self.backend.name}: {len(gens)} answers for {len(batch)} prompts"
                )
            for s, (a, b), gen in zip(active, slices, gens, strict=True):
                self._apply(s, a, b, gen)
        return [s.result for s in states]

    def _state(self, query: str, candidates: Sequence[tuple[str, str]]) -> _State:
        order = [(str(cid), str(title)) for cid, title in candidates]
        ids = [cid for cid, _ in order]
        if len(set(ids)) != len(ids):
            raise ValueError(f"candidates for {query!r}: ids must be distinct")
        head = min(self.depth, len(order))
        todo = windows(head, self.window, self.step) if head > 1 else []
        return _State(query, order, head, todo, RerankResult(ids=ids))

    def _apply(self, s: _State, a: int, b: int, gen: Generation) -> None:
        part = s.order[a:b]
        k = None if self.k is None else min(self.k, len(part))
        parsed = parse_ranking(gen.text, [cid for cid, _ in part], self.template, k=k)
        if not parsed.clean:
            logger.debug("repaired answer for %r: %s", s.query, "; ".join(parsed.issues))
        titles = dict(part)
        s.order[a:b] = [(cid, titles[cid]) for cid in parsed.ids]
        r = s.result
        r.ids = [cid for cid, _ in s.order]
        r.parses.append(parsed)
        r.latency_s += gen.latency_s
        r.prompt_tokens += gen.prompt_tokens or 0
        r.completion_tokens += gen.completion_tokens or 0


def build_reranker(cfg: Any, backend: LLMBackend | None = None) -> Any:
    """The re-ranker `llm.scorer` names, with `.rerank(query, [(id, title)]) -> RerankResult`.

    listwise: an `LLMReranker` over the configured backend (or `backend`); pointwise: a
    `PointwiseReranker` on a local model (it needs the answer tokens' logits, so over an
    API the listwise re-ranker is used, with a warning).
    """
    from shortlister.llm.backends import build_backend
    from shortlister.llm.config import LLMConfig

    cfg = LLMConfig.from_config(cfg)
    if cfg.scorer == "pointwise" and backend is None:
        if cfg.backend == "transformers":
            from shortlister.llm.pointwise import PointwiseReranker

            return PointwiseReranker(cfg)
        # An API returns text, not the answer tokens' logits: rank listwise through it.
        logger.warning("llm.scorer pointwise needs a local model; listwise over %s", cfg.backend)
    template = PromptTemplate.from_config(cfg.prompt)
    return LLMReranker(backend or build_backend(cfg), template, cfg.window, cfg.step, cfg.depth)


class ModelUnavailable(ConfigError):
    """The configured model (or API) cannot be had here; nothing was downloaded."""


def require_available(cfg: Any) -> None:
    """ModelUnavailable, saying why, unless the configured model can be had here."""
    ok, reason = backend_available(cfg)
    if not ok:
        raise ModelUnavailable(f"model not available: {reason}")


def load_reranker(cfg: Any) -> Any:
    """`build_reranker(cfg)` once `require_available(cfg)` has passed."""
    require_available(cfg)
    return build_reranker(cfg)
