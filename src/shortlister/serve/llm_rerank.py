"""Method `llm` of the service: a first stage's top re-ranked by an LLM, under a time limit.

A request is ranked by the first-stage method (stars included: they are blended in and
pinned first exactly as for that method), then the LLM re-orders the `depth` best
unstarred candidates in a worker thread while the request waits at most
`llm.serve_timeout_s`. When the time passes, or the model raises, the answer is the first
stage's order, and the response's `llm` field says so. The LLM never moves a pinned star:
the recruiter put it there.

One worker thread runs the model (the re-rankers are not thread-safe), so calls are
serialised. A request that gives up cancels its call when it has not started yet; a call
that finishes late only fills the result cache for its own inputs (the same query and
candidate list, so the same answer), never another request's answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shortlister.core.errors import ConfigError
from shortlister.llm.config import LLMConfig

logger = logging.getLogger(__name__)

LLM_METHOD = "llm"
MAX_DETAIL_CHARS = 300  # an exception's message in a response: enough to say what failed


@dataclass
class LLMOutcome:
    """What the LLM did for one request (the response's `llm` field)."""

    status: str  # reranked | timeout | error | skipped
    first_stage: str
    model: str
    seconds: float  # waited for the LLM (0 when skipped or cached)
    timeout_s: float
    depth: int  # candidates handed to the LLM
    cached: bool = False
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def display_model(cfg: LLMConfig) -> str:
    """The model's name as a recruiter should read it: a folder's name, not its path."""
    name = str(cfg.model_name or "")
    if cfg.backend != "openai" and name.startswith(("/", ".", "~")):
        name = Path(name).expanduser().name
    return name + (" + LoRA adapter" if cfg.backend != "openai" and cfg.adapter_path() else "")


class LLMStage:
    """A loaded re-ranker, the first-stage method it re-ranks, and its worker thread."""

    def __init__(
        self,
        cfg: LLMConfig,
        reranker: Any,
        first_stage: str,
        *,
        load_seconds: float = 0.0,
        cache_size: int = 128,
    ) -> None:
        self.cfg, self.reranker, self.first_stage = cfg, reranker, first_stage
        self.timeout_s = float(cfg.serve_timeout_s)
        self.depth = int(getattr(reranker, "depth", cfg.depth))
        self.model = display_model(cfg)
        self.load_seconds = load_seconds
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, tuple[str, ...]], list[str]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm-rerank")

    @classmethod
    def load(cls, cfg: LLMConfig, first_stage: str) -> LLMStage:
        """Check that the model can be had (nothing loaded), then load it once."""
        from shortlister.llm.rerank import build_reranker, require_available

        if cfg.serve_timeout_s <= 0:
            raise ConfigError(f"llm.serve_timeout_s: expected > 0, got {cfg.serve_timeout_s}")
        require_available(cfg)
        t0 = time.perf_counter()
        reranker = build_reranker(cfg)
        return cls(cfg, reranker, first_stage, load_seconds=time.perf_counter() - t0)

    def describe(self) -> dict[str, Any]:
        return {
            "first_stage": self.first_stage,
            "model": self.model,
            "backend": self.cfg.backend,
            "scorer": self.cfg.scorer,
            "depth": self.depth,
            "timeout_s": self.timeout_s,
            "load_seconds": round(self.load_seconds, 3),
        }

    def outcome(self, status: str, n: int, seconds: float = 0.0, **kw: Any) -> LLMOutcome:
        return LLMOutcome(
            status, self.first_stage, self.model, round(seconds, 3), self.timeout_s, n, **kw
        )

    def rerank_order(
        self, query: str | None, order: Sequence[int], n_starred: int, ids: Sequence[str],
        titles: Sequence[str], *, matched: bool = True, scores: Any = None,
    ) -> tuple[list[int], LLMOutcome]:  # fmt: skip
        """`order` (pool rows, starred first) with its `depth` rows after the stars re-ranked.

        The first stage's order comes back unchanged, with the reason, when the LLM is
        skipped (no query, nothing matched), times out or fails. `scores` (the first
        stage's) are not used: the LLM orders by the texts alone.
        """
        order = [int(i) for i in order]
        head = order[n_starred : n_starred + self.depth]
        if query is None:
            return order, self.outcome("skipped", 0, detail="no query: ranked by the stars alone")
        if not matched:
            return order, self.outcome("skipped", 0, detail="the query matches no candidate")
        if len(head) < 2:
            return order, self.outcome("skipped", len(head), detail="nothing to re-rank")
        ranked, outcome = self.rerank([(ids[i], titles[i]) for i in head], query)
        if ranked is None:
            return order, outcome
        row = {ids[i]: i for i in head}
        reordered = order[:n_starred] + [row[c] for c in ranked] + order[n_starred + len(head) :]
        return reordered, outcome

    def rerank(
        self, head: list[tuple[str, str]], query: str
    ) -> tuple[list[str] | None, LLMOutcome]:
        """The LLM's order of `head`'s ids, or None (timed out, failed) and why."""
        key = (query, tuple(cid for cid, _ in head))
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
        if hit is not None:
            return list(hit), self.outcome("reranked", len(head), cached=True)
        t0 = time.perf_counter()
        future = self._executor.submit(self._call, key, query, head)
        try:
            ranked = future.result(timeout=self.timeout_s)
        except FutureTimeout:
            # Not started yet (an earlier call still holds the model): it never will be.
            waited = future.cancel()
            detail = (
                f"the model was still busy with an earlier request after {self.timeout_s:g} s"
                if waited
                else f"no answer within {self.timeout_s:g} s"
            )
            seconds = time.perf_counter() - t0
            return None, self.outcome("timeout", len(head), seconds, detail=detail)
        except Exception as exc:  # logged by _call; the first stage's order is the answer
            detail = f"{type(exc).__name__}: {exc}"[:MAX_DETAIL_CHARS]
            seconds = time.perf_counter() - t0
            return None, self.outcome("error", len(head), seconds, detail=detail)
        return ranked, self.outcome("reranked", len(head), time.perf_counter() - t0)

    def _call(self, key: tuple[str, tuple[str, ...]], query: str, head: list[tuple[str, str]]):
        try:
            ids = [str(c) for c in self.reranker.rerank(query, head).ids]
            if sorted(ids) != sorted(key[1]):
                raise RuntimeError(
                    f"the re-ranker returned {len(ids)} ids, not a permutation of the "
                    f"{len(key[1])} candidates it was given"
                )
        except Exception:
            logger.warning("llm re-ranking failed for %r", query, exc_info=True)
            raise
        with self._cache_lock:
            self._cache[key] = ids
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return ids

    def close(self) -> None:
        """Stop taking calls; a call in flight finishes in its thread."""
        self._executor.shutdown(wait=False, cancel_futures=True)
