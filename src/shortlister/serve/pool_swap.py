"""Swapping the served pool: every method rebuilt for the new pool, then one atomic swap.

The routes hold a `LiveState`, which answers each attribute from the `ServiceState` its
request was pinned to when it arrived (`PinStateMiddleware`): a request that started on
the old pool finishes on it, whatever is swapped meanwhile, and none mixes the old
pool's rankers with the new pool's rows.

Rebuilding reuses what is loaded, never what is tied to the old pool:
- a method that learns from the pool (TF-IDF's vocabulary) and is in serve.fit_methods
  is fitted anew on the new pool, as at start-up over a candidate file;
- any other method keeps its loaded model and encodes the new titles (on a join, only the
  added ones): Sentence-BERT is not loaded twice;
- an ANN index is the old pool's rows, so it is never reused: a new one is built when
  the new pool is large enough (index.min_pool), else the pool is scanned exactly;
- the learned ranker keeps its model and indexes the new pool; the second stages (llm,
  cross-encoder) keep their model, over their first stage's new ranker, with empty caches
  (theirs are keyed by ids, which a replaced pool may reuse for other candidates).
A method that cannot be rebuilt is listed as unavailable, with the reason.
"""

from __future__ import annotations

import contextvars
import copy
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp
from starlette.types import ASGIApp, Receive, Scope, Send

from shortlister.core.errors import DataError
from shortlister.embeddings.sbert import SbertEmbedder
from shortlister.ranking.indexed import index_for
from shortlister.ranking.pool import CandidatePool
from shortlister.serve.method_state import MethodState
from shortlister.serve.state import ServiceState, _cache_sizes, fallback_default, load_method

logger = logging.getLogger(__name__)

ENCODE_CHUNK = 512  # titles encoded per hold of a model's lock: queries interleave


class LiveState:
    """The served `ServiceState`, swappable; each request sees the one it was pinned to."""

    def __init__(self, state: ServiceState) -> None:
        self._current = state
        self._pinned: contextvars.ContextVar[ServiceState | None] = contextvars.ContextVar(
            "shortlister_pinned_state", default=None
        )
        self.swap_lock = threading.Lock()  # one pool change at a time

    @property
    def current(self) -> ServiceState:
        """The state this request was pinned to; outside a request, the served one."""
        return self._pinned.get() or self._current

    @property
    def served(self) -> ServiceState:
        """The state served now (what a new request would be pinned to)."""
        return self._current

    def __getattr__(self, name: str) -> Any:  # only for names LiveState does not have
        return getattr(self.current, name)

    def pin(self) -> contextvars.Token:
        return self._pinned.set(self._current)

    def unpin(self, token: contextvars.Token) -> None:
        self._pinned.reset(token)

    def swap(self, state: ServiceState) -> None:
        """Serve `state` from the next request on (requests in flight keep theirs)."""
        self._current = state


def live_state(state: ServiceState) -> ServiceState:
    """`state` behind a LiveState (typed as what the routes expect; idempotent)."""
    return state if isinstance(state, LiveState) else cast(ServiceState, LiveState(state))


class PinStateMiddleware:
    """Pins each HTTP request to the state served when it arrived (see LiveState)."""

    def __init__(self, app: ASGIApp, live: LiveState) -> None:
        self.app, self.live = app, live

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = self.live.pin()
        try:
            await self.app(scope, receive, send)
        finally:
            self.live.unpin(token)


def rebuild_state(
    old: ServiceState, pool: pd.DataFrame, source: str, *, n_kept: int = 0
) -> ServiceState:
    """A ServiceState over `pool` with every method of `old` rebuilt for it.

    `n_kept`: the first rows of `pool` are `old`'s pool, in order (a join): methods that
    keep their model encode only the rows after them.
    """
    settings = old.settings
    pool = pool.reset_index(drop=True)
    methods: dict[str, MethodState] = {}
    unavailable = dict(old.unavailable)
    rebuilt: dict[int, MethodState] = {}  # id(old ranker) -> its rebuilt method
    firsts = [m for m in old.methods.values() if m.llm is None]
    for state in firsts:
        try:
            if isinstance(state.ranker, CandidatePool):
                new = _rebuild_pool_method(old, state, pool, source, n_kept)
            else:
                new = _rebuild_learned(old, state, pool, methods)
        except Exception as exc:  # one method's failure leaves the others served
            unavailable[state.name] = f"not rebuilt for the new pool: {exc}"
            logger.warning("method %s not served for the new pool: %s", state.name, exc)
            continue
        methods[state.name] = rebuilt[id(state.ranker)] = new
    for state in (m for m in old.methods.values() if m.llm is not None):
        first = rebuilt.get(id(state.ranker))
        if first is None:
            unavailable[state.name] = "its first stage is not served for the new pool"
            continue
        stage = _fresh_stage(state.llm)
        methods[state.name] = MethodState(state.name, first.ranker, state.source, 0.0, stage)
    if not methods:
        raise DataError(f"no method can rank the new pool: {unavailable}")
    if settings.method not in methods:
        settings.method = fallback_default(settings, methods, unavailable)
    return ServiceState(settings, pool, source, methods, unavailable)


def _rebuild_pool_method(
    old: ServiceState, state: MethodState, pool: pd.DataFrame, source: str, n_kept: int
) -> MethodState:
    ranker = cast(CandidatePool, state.ranker)
    settings = old.settings
    if not isinstance(ranker.embedder, SbertEmbedder) and state.name in settings.fit_methods:
        return load_method(settings, pool, source, state.name)  # fitted anew, as at start-up
    t0 = time.perf_counter()
    titles = pool["title"].astype(str).tolist()
    lock = ranker._encode_lock
    if n_kept:
        added = encode_titles(ranker.embedder, titles[n_kept:], lock)
        matrix = _stack([_rows(ranker.matrix, n_kept), added])
    else:
        matrix = encode_titles(ranker.embedder, titles, lock)
    index = index_for(matrix, ranker.embedder, settings.index_config)
    new = CandidatePool(
        pool,
        ranker.embedder,
        matrix,
        index=index,
        index_depth=settings.max_top_k,
        no_match_ratio=ranker.no_match_ratio,
        **_cache_sizes(settings),
    )
    new._encode_lock = lock  # one model, one lock: the old pool's requests use it too
    _ = new.match_floor
    return MethodState(state.name, new, "re-encoded", time.perf_counter() - t0)


def _rebuild_learned(
    old: ServiceState, state: MethodState, pool: pd.DataFrame, methods: dict[str, MethodState]
) -> MethodState:
    from shortlister.ranking.ltr.pool import LearnedRanker

    t0 = time.perf_counter()
    learned = cast(LearnedRanker, state.ranker)
    lock = learned.stars._encode_lock
    sbert = next(
        (
            m.ranker.matrix
            for m in methods.values()
            if isinstance(m.ranker, CandidatePool)
            and m.ranker.embedder is learned.ltr.sbert
            and isinstance(m.ranker.matrix, np.ndarray)
        ),
        None,
    )
    if sbert is None:
        sbert = encode_titles(learned.ltr.sbert, pool["title"].astype(str).tolist(), lock)
    new = LearnedRanker.build(learned.ltr, pool, sbert_matrix=sbert, **_cache_sizes(old.settings))
    new._lock, new.stars._encode_lock = learned._lock, lock  # the same model, the same locks
    _ = new.stars.match_floor
    return MethodState(state.name, new, state.source, time.perf_counter() - t0)


def encode_titles(embedder: Any, titles: Sequence[str], lock: Any) -> Any:
    """One row per title; each distinct title encoded once, in chunks under `lock`."""
    unique, inverse = np.unique(np.asarray(titles, dtype=object), return_inverse=True)
    parts = []
    for start in range(0, len(unique), ENCODE_CHUNK):
        with lock:
            parts.append(embedder.encode(list(unique[start : start + ENCODE_CHUNK])))
    if not parts:
        raise DataError("no title to encode")
    return _rows(_stack(parts), inverse)


def _stack(parts: list[Any]) -> Any:
    if any(sp.issparse(p) for p in parts):
        return sp.vstack(parts, format="csr")
    return np.vstack([np.asarray(p, dtype=np.float32) for p in parts])


def _rows(matrix: Any, rows: Any) -> Any:
    """`matrix`'s first `rows` rows (an int) or the rows at `rows` (an index array)."""
    if isinstance(rows, int | np.integer):
        return matrix[:rows] if sp.issparse(matrix) else np.asarray(matrix[:rows])
    return matrix[np.asarray(rows).ravel()]


def _fresh_stage(stage: Any) -> Any:
    """The second stage's model and worker, with its own empty result cache."""
    fresh = copy.copy(stage)
    if isinstance(getattr(stage, "_cache", None), OrderedDict):
        fresh._cache = OrderedDict()
    return fresh
