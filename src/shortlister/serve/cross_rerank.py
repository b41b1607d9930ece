"""Method `cross-encoder` of the service: the first stage's top re-ranked within a budget.

A request is ranked by the first-stage method (`cross.rerank.first_stage`, stars blended
in and pinned first as for that method); then the cross-encoder scores the `depth` best
unstarred candidates against the query and re-orders them by the blend the pipeline chose
on validation (models/cross-encoder/serving.json: N and the weight). The depth is the
pipeline's N, cut at start-up to what fits in `cross.serve_budget_ms` on this machine
(measured on a warm-up batch); a request waits at most the budget, then answers in the
first stage's order and says so, as method `llm` does (the response's `llm` field).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import numpy as np

from shortlister.cross.config import CrossConfig
from shortlister.cross.rerank import blend
from shortlister.cross.scorer import MODEL_DIR, SERVING_FILE, CrossScorer
from shortlister.serve.llm_rerank import MAX_DETAIL_CHARS, LLMOutcome

logger = logging.getLogger(__name__)

CROSS_METHOD = "cross-encoder"
MIN_DEPTH = 10  # below this a budget is too small to be worth re-ranking


class CrossStage:
    """A loaded cross-encoder, the blend chosen on validation, and its worker thread."""

    def __init__(
        self,
        scorer: CrossScorer,
        first_stage: str,
        depth: int,
        weight: float,
        budget_ms: float,
        *,
        ms_per_pair: float = 0.0,
        load_seconds: float = 0.0,
        cache_size: int = 256,
    ) -> None:
        self.scorer, self.first_stage = scorer, first_stage
        self.depth, self.weight = int(depth), float(weight)
        self.timeout_s = budget_ms / 1000.0
        self.ms_per_pair, self.load_seconds = ms_per_pair, load_seconds
        self.model = f"cross-encoder ({scorer.backend})"
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, tuple[str, ...]], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cross-rerank")

    @classmethod
    def load(cls, cross: dict[str, Any], models_dir: str | Path, first_stage: str) -> CrossStage:
        """The stage's model and serving choice; depth cut to the latency budget."""
        cfg = CrossConfig.from_config(cross)
        budget_ms = cfg.serve_budget_ms
        model_dir = Path(models_dir) / MODEL_DIR
        serving_path = model_dir / SERVING_FILE
        if not serving_path.is_file():
            raise FileNotFoundError(f"{serving_path}: run `dvc repro cross_encoder` first")
        serving = json.loads(serving_path.read_text())
        t0 = time.perf_counter()
        scorer = CrossScorer(
            model_dir, cfg.rerank.backend, cfg.train.max_length, cfg.rerank.batch_size
        )
        probe = ["Aspiring Human Resources Professional | people first"] * 32
        scorer.score("human resources specialist", probe)  # warm-up
        t1 = time.perf_counter()
        scorer.score("human resources specialist", probe)
        ms_per_pair = 1000.0 * (time.perf_counter() - t1) / len(probe)
        # Half the budget by the warm-up's measure: a busy machine runs slower.
        fits = int(0.5 * budget_ms / max(ms_per_pair, 1e-6))
        depth = min(int(serving["top_n"]), max(MIN_DEPTH, fits))
        if fits < int(serving["top_n"]):
            logger.warning(
                "cross-encoder: top %d cut to %d to fit %.0f ms (%.2f ms a pair here)",
                serving["top_n"], depth, budget_ms, ms_per_pair,
            )  # fmt: skip
        return cls(
            scorer,
            first_stage,
            depth,
            float(serving["weight"]),
            budget_ms,
            ms_per_pair=ms_per_pair,
            load_seconds=time.perf_counter() - t0,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "first_stage": self.first_stage,
            "model": self.model,
            "backend": self.scorer.backend,
            "scorer": "cross-encoder",
            "depth": self.depth,
            "weight": self.weight,
            "timeout_s": self.timeout_s,
            "ms_per_pair": round(self.ms_per_pair, 3),
            "load_seconds": round(self.load_seconds, 3),
        }

    def outcome(self, status: str, n: int, seconds: float = 0.0, **kw: Any) -> LLMOutcome:
        return LLMOutcome(
            status, self.first_stage, self.model, round(seconds, 3), self.timeout_s, n, **kw
        )

    def rerank_order(
        self, query: str | None, order: Sequence[int], n_starred: int, ids: Sequence[str],
        titles: Sequence[str], *, matched: bool = True, scores: np.ndarray | None = None,
    ) -> tuple[list[int], LLMOutcome]:  # fmt: skip
        """`order` (pool rows, starred first) with its `depth` rows after the stars
        re-ranked by the blend of the first stage's `scores` and the cross-encoder's."""
        order = [int(i) for i in order]
        head = order[n_starred : n_starred + self.depth]
        if query is None:
            return order, self.outcome("skipped", 0, detail="no query: ranked by the stars alone")
        if not matched:
            return order, self.outcome("skipped", 0, detail="the query matches no candidate")
        if len(head) < 2 or scores is None:
            return order, self.outcome("skipped", len(head), detail="nothing to re-rank")
        key = (query, tuple(ids[i] for i in head))
        with self._lock:
            cross = self._cache.get(key)
        t0 = time.perf_counter()
        cached = cross is not None
        if cross is None:
            future = self._executor.submit(self._score, key, query, [titles[i] for i in head])
            try:
                cross = future.result(timeout=self.timeout_s)
            except FutureTimeout:
                future.cancel()
                detail = f"no answer within {self.timeout_s * 1000:.0f} ms"
                return order, self.outcome(
                    "timeout", len(head), time.perf_counter() - t0, detail=detail
                )
            except Exception as exc:  # the first stage's order is the answer
                detail = f"{type(exc).__name__}: {exc}"[:MAX_DETAIL_CHARS]
                return order, self.outcome(
                    "error", len(head), time.perf_counter() - t0, detail=detail
                )
        mixed = blend(np.asarray([float(scores[i]) for i in head]), cross, self.weight)
        ranked = [head[j] for j in np.argsort(-mixed, kind="stable")]
        reordered = order[:n_starred] + ranked + order[n_starred + len(head) :]
        return reordered, self.outcome(
            "reranked", len(head), 0.0 if cached else time.perf_counter() - t0, cached=cached
        )

    def _score(self, key: tuple[str, tuple[str, ...]], query: str, texts: list[str]) -> np.ndarray:
        try:
            cross = self.scorer.score(query, texts)
        except Exception:
            logger.warning("cross-encoder scoring failed for %r", query, exc_info=True)
            raise
        with self._lock:
            self._cache[key] = cross
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return cross

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
