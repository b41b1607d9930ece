"""Features of (query, candidate) pairs for the learned rankers.

Everything here must mean the same on a pool and a query the model never saw, so the
features are similarities and query-relative positions rather than identities:

* scalars: Sentence-BERT cosine of the whole headline and the best cosine of its
  segments ("Title at Company | tagline" -> "Title", "Company", "tagline": the company
  and tagline dilute the whole-headline vector), TF-IDF cosines (the method's blend,
  words, characters), BM25 (raw and divided by the query's upper bound), some scores'
  gap to the query's best score in the pool, and log ranks in the pool;
* Sentence-BERT vector blocks: query, candidate, their elementwise product, |difference|;
* optional candidate features: screening score / 100 and a missing flag;
* optional cross-encoder relatedness (`cross`, `cross_missing`): the cross-encoder reads
  (role, headline) together for the first stage's top `cross.depth` by `sbert_cos`; the
  rest of the list gets the query's lowest scored value and the missing flag.

The candidate side (vectors, fitted TF-IDF and BM25) is a :class:`PoolIndex`, built once
per pool; a service keeps it and only encodes the query per request.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shortlister.core.checks import check_int
from shortlister.core.errors import ConfigError
from shortlister.embeddings.base import Embedder, Matrix, build_embedder, l2_normalise
from shortlister.ranking.bm25 import BM25, BM25Config, sparse_times_dense
from shortlister.ranking.cosine import top_k

logger = logging.getLogger(__name__)

# Scores computed against the whole pool; "<score>_gap" and "<score>_rank" derive from them.
POOL_SCORES = ("sbert_cos", "sbert_seg", "tfidf_cos", "word_cos", "char_cos", "bm25", "bm25_norm")
# Query-relative variants of a pool score, computed over the whole pool (so cutting the
# re-ranking list does not change them): gap to the best, z-score, log2(1 + rank).
DERIVED = ("gap", "z", "rank")
# Cross-encoder relatedness of the top `cross.depth` and a flag for the rest of the list.
CROSS_SCALARS = ("cross", "cross_missing")
SCALARS = (
    *POOL_SCORES,
    *(f"{s}_{kind}" for kind in DERIVED for s in POOL_SCORES),
    *CROSS_SCALARS,
)
DEFAULT_SCALARS = (
    *POOL_SCORES,
    *(f"{s}_gap" for s in ("sbert_cos", "sbert_seg", "tfidf_cos", "bm25_norm")),
    *(f"{s}_rank" for s in ("sbert_cos", "sbert_seg", "tfidf_cos", "bm25")),
)
# Where LinkedIn-style headlines change topic: " | ", " at ", " - ", ", ", " @ ".
SEGMENT_PATTERN = r"\s+\|\s+|\s+at\s+|\s+-\s+|,\s+|\s+@\s+"
VECTOR_BLOCKS = ("query", "candidate", "product", "absdiff")
SCREENING = ("screening_score", "screening_missing")


@dataclass
class FeatureConfig:
    scalars: list[str] = field(default_factory=lambda: list(DEFAULT_SCALARS))
    vectors: list[str] = field(default_factory=lambda: list(VECTOR_BLOCKS))
    use_screening_score: bool = False
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    bm25_stem: bool = True
    # Re-ranking list: the union of the top-N of Sentence-BERT and of TF-IDF cosine.
    candidates_per_query: int = 200
    segment_pattern: str = SEGMENT_PATTERN
    # How a new pool is embedded (methods.sbert / methods.tfidf of params.yaml).
    sbert: dict[str, Any] = field(default_factory=lambda: {"name": "sbert"})
    tfidf: dict[str, Any] = field(default_factory=lambda: {"name": "tfidf"})
    # The cross-encoder behind `cross*` scalars: {model_dir (under paths.models), depth,
    # backend, max_length, batch_size}; None when no such scalar is chosen.
    cross: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        for name, chosen, known in (
            ("scalars", self.scalars, SCALARS),
            ("vectors", self.vectors, VECTOR_BLOCKS),
        ):
            unknown = sorted(set(chosen) - set(known))
            if unknown:
                raise ConfigError(f"features.{name}: unknown {unknown}; expected some of {known}")
        if not self.scalars and not self.vectors:
            raise ConfigError("features: choose at least one scalar or vector block")
        check_int("features.candidates_per_query", self.candidates_per_query, minimum=1)
        try:
            re.compile(self.segment_pattern)
        except re.error as exc:
            raise ConfigError(f"segment_pattern {self.segment_pattern!r}: {exc}") from exc
        BM25Config(self.bm25_k1, self.bm25_b, self.bm25_stem)  # validates
        if self.uses_cross:
            if not isinstance(self.cross, Mapping) or "model_dir" not in self.cross:
                raise ConfigError(
                    f"features.scalars has {[s for s in self.scalars if s in CROSS_SCALARS]} "
                    "but features.cross names no model_dir (the cross-encoder to score with)"
                )
            check_int("features.cross.depth", self.cross.get("depth", 50), minimum=1)

    @property
    def uses_cross(self) -> bool:
        return any(s in CROSS_SCALARS for s in self.scalars)

    @property
    def cross_depth(self) -> int:
        return int((self.cross or {}).get("depth", 50))

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> FeatureConfig:
        """The feature keys of `cfg` (e.g. a whole `rankers.<name>` mapping); others are
        left to the caller (see `ltr.config.RankerConfig.from_config`)."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in cfg.items() if k in known})

    def names(self, dim: int) -> list[str]:
        """Column names of the feature matrix, for a Sentence-BERT dimension `dim`."""
        vec = [f"{block}_{i}" for block in self.vectors for i in range(dim)]
        return [*self.scalars, *vec, *(SCREENING if self.use_screening_score else ())]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> FeatureConfig:
        return cls(**json.loads(Path(path).read_text()))


@dataclass
class PoolIndex:
    """The candidate side of every feature, computed once per pool."""

    ids: list[str]
    sbert: np.ndarray  # (n, d) unit rows
    segments: np.ndarray  # (n_segments, d) unit rows, each candidate's segments in a row
    segment_starts: np.ndarray  # (n,) first segment of each candidate
    tfidf: Matrix  # the tfidf method's vectors: a dot product is its cosine
    word: sp.csr_matrix  # unit rows of the word n-gram part
    char: sp.csr_matrix  # unit rows of the character n-gram part
    tfidf_embedder: Embedder
    bm25: BM25
    screening: np.ndarray | None  # raw 0-100 with NaN for missing; None: no such column
    titles: list[str] = field(default_factory=list)  # what the cross-encoder reads

    def __len__(self) -> int:
        return len(self.ids)


def build_pool_index(
    pool: pd.DataFrame,
    cfg: FeatureConfig,
    *,
    sbert: Embedder | None = None,
    sbert_matrix: np.ndarray | None = None,
    tfidf: Embedder | None = None,
    tfidf_matrix: Matrix | None = None,
) -> PoolIndex:
    """Index a cleaned pool (id, title[, screening_score]).

    Stored artifacts of the embed stage may be passed in (fitted TF-IDF, matrices);
    anything missing is fitted or encoded here with the configured methods.
    """
    titles = pool["title"].astype(str).tolist()
    if not titles:
        raise ValueError("cannot index an empty candidate pool")
    sbert = sbert or build_embedder(cfg.sbert)
    if sbert_matrix is None:
        sbert_matrix = sbert.encode(titles)
    segments, starts = split_segments(titles, cfg.segment_pattern)
    if tfidf is None:
        tfidf = build_embedder(cfg.tfidf).fit(titles)
    if tfidf_matrix is None:
        tfidf_matrix = tfidf.encode(titles)
    if sbert_matrix.shape[0] != len(titles) or tfidf_matrix.shape[0] != len(titles):
        raise ValueError(
            f"pool has {len(titles)} titles but the stored matrices have "
            f"{sbert_matrix.shape[0]} (sbert) and {tfidf_matrix.shape[0]} (tfidf) rows"
        )
    screening = None
    if "screening_score" in pool.columns:
        screening = pd.to_numeric(pool["screening_score"], errors="coerce").to_numpy(np.float64)
    return PoolIndex(
        ids=pool["id"].astype(str).tolist(),
        sbert=np.asarray(sbert_matrix, dtype=np.float32),
        segments=np.asarray(sbert.encode(segments), dtype=np.float32),
        segment_starts=starts,
        tfidf=tfidf_matrix,
        word=l2_normalise(tfidf.word.transform(titles)),
        char=l2_normalise(tfidf.char.transform(titles)),
        tfidf_embedder=tfidf,
        bm25=BM25(BM25Config(cfg.bm25_k1, cfg.bm25_b, cfg.bm25_stem)).fit(titles),
        screening=screening,
        titles=titles,
    )


def split_segments(titles: Sequence[str], pattern: str) -> tuple[list[str], np.ndarray]:
    """Each title's segments, flattened, and where each title's run of segments starts.

    A title that does not split (or splits into nothing) is its own single segment.
    """
    regex = re.compile(pattern, flags=re.IGNORECASE)
    flat: list[str] = []
    starts = np.empty(len(titles), dtype=np.int64)
    for i, title in enumerate(titles):
        starts[i] = len(flat)
        parts = [p.strip() for p in regex.split(title) if p and p.strip()]
        flat.extend(parts if len(parts) > 1 else [title])
    return flat, starts


@dataclass
class QueryScores:
    """Queries scored against a whole pool: every score is (n_queries, n_candidates)."""

    vectors: np.ndarray  # (n_queries, d) Sentence-BERT query vectors
    scores: dict[str, np.ndarray]

    def __len__(self) -> int:
        return self.vectors.shape[0]


def score_queries(
    index: PoolIndex, queries: Sequence[str], sbert: Embedder, vectors: np.ndarray | None = None
) -> QueryScores:
    queries = list(queries)
    if vectors is None:
        vectors = np.asarray(sbert.encode(queries), dtype=np.float32)
    tfidf_q = index.tfidf_embedder
    bm25 = index.bm25.score(queries)
    bound = index.bm25.upper_bound(queries)
    sbert_cos = _cosine(index.sbert, vectors)
    # The whole headline counts as a segment too: never below the plain cosine.
    segment_max = np.maximum.reduceat(
        _cosine(index.segments, vectors), index.segment_starts, axis=1
    )
    scores = {
        "sbert_cos": sbert_cos,
        "sbert_seg": np.maximum(segment_max, sbert_cos),
        "tfidf_cos": _cosine(index.tfidf, tfidf_q.encode(queries)),
        "word_cos": _cosine(index.word, l2_normalise(tfidf_q.word.transform(queries))),
        "char_cos": _cosine(index.char, l2_normalise(tfidf_q.char.transform(queries))),
        "bm25": bm25,
        "bm25_norm": (bm25 / np.maximum(bound, 1e-9)[:, None]).astype(np.float32),
    }
    return QueryScores(vectors, scores)


CrossScore = Callable[[str, list[str]], np.ndarray]


def add_cross_scores(
    index: PoolIndex, qs: QueryScores, queries: Sequence[str], score: CrossScore, depth: int
) -> QueryScores:
    """`qs.scores["cross"]`: the cross-encoder's score of each query's top `depth` by
    `sbert_cos`, NaN elsewhere (see `scalar_column`)."""
    cross = np.full(qs.scores["sbert_cos"].shape, np.nan, dtype=np.float32)
    for row, query in enumerate(queries):
        idx = top_k(qs.scores["sbert_cos"][row], depth)
        if len(idx):
            cross[row, idx] = score(query, [index.titles[i] for i in idx])
    qs.scores["cross"] = cross
    return qs


def _cosine(candidates: Matrix, queries: Matrix) -> np.ndarray:
    """(n_queries, n_candidates) dot products, identical for a query alone or in a batch.

    Sparse: the pool times dense query columns; `queries @ pool.T` would convert the
    whole pool to CSC on every request (~15 ms per 10k titles).
    """
    if not sp.issparse(candidates):
        # One matrix-vector product per query: a (n_queries x d) GEMM may round
        # differently by batch size, and a query must score the same alone or in a batch.
        queries = np.asarray(queries, dtype=np.float32)
        out = np.empty((queries.shape[0], candidates.shape[0]), dtype=np.float32)
        for row, vector in enumerate(queries):
            out[row] = candidates @ vector
        return out
    return sparse_times_dense(candidates, queries)


def candidate_list(qs: QueryScores, row: int, n: int) -> np.ndarray:
    """Pool positions to re-rank for query `row`: top-n by Sentence-BERT ∪ top-n by TF-IDF.

    Sorted by pool position, so any later tie is broken by candidate order.
    """
    union = np.union1d(top_k(qs.scores["sbert_cos"][row], n), top_k(qs.scores["tfidf_cos"][row], n))
    return union.astype(np.int64)


def _log_rank(scores: np.ndarray) -> np.ndarray:
    """log2(1 + rank) of each candidate in the pool, rank 1 best, ties by candidate order."""
    order = np.lexsort((np.arange(scores.shape[0]), -scores))
    ranks = np.empty(scores.shape[0], dtype=np.float64)
    ranks[order] = np.arange(1, scores.shape[0] + 1)
    return np.log2(1.0 + ranks).astype(np.float32)


def scalar_column(qs: QueryScores, row: int, name: str, idx: np.ndarray) -> np.ndarray:
    if name in CROSS_SCALARS:
        if "cross" not in qs.scores:
            raise ValueError(f"feature {name!r} needs cross-encoder scores (add_cross_scores)")
        values = qs.scores["cross"][row, idx]
        missing = np.isnan(values)
        if name == "cross_missing":
            return missing.astype(np.float32)
        scored = qs.scores["cross"][row]
        floor = float(np.nanmin(scored)) if np.isfinite(scored).any() else 0.0
        return np.where(missing, floor, values).astype(np.float32)
    if name in qs.scores:
        return qs.scores[name][row, idx]
    base, kind = name.rsplit("_", 1)
    full = qs.scores[base][row]
    if kind == "gap":
        return full[idx] - full.max()
    if kind == "z":
        return (full[idx] - full.mean()) / max(float(full.std()), 1e-6)
    return _log_rank(full)[idx]


def pair_features(
    index: PoolIndex, qs: QueryScores, row: int, idx: np.ndarray, cfg: FeatureConfig
) -> np.ndarray:
    """Feature matrix (len(idx), n_features), float32, columns as `cfg.names(dim)`."""
    idx = np.asarray(idx, dtype=np.int64)
    cols: list[np.ndarray] = [
        scalar_column(qs, row, name, idx)[:, None].astype(np.float32) for name in cfg.scalars
    ]
    if cfg.vectors:
        q = qs.vectors[row][None, :]
        c = index.sbert[idx]
        blocks = {
            "query": lambda: np.broadcast_to(q, c.shape),
            "candidate": lambda: c,
            "product": lambda: q * c,
            "absdiff": lambda: np.abs(q - c),
        }
        cols.extend(blocks[b]() for b in cfg.vectors)
    if cfg.use_screening_score:
        cols.append(screening_features(index, idx))
    return np.ascontiguousarray(np.hstack(cols), dtype=np.float32)


def screening_features(index: PoolIndex, idx: np.ndarray) -> np.ndarray:
    """Screening score / 100 and a missing flag; a pool without the column is all missing."""
    if index.screening is None:
        raw = np.full(len(idx), np.nan)
    else:
        raw = index.screening[idx]
    missing = np.isnan(raw)
    # Missing is 0 here and standardised later; the flag lets the model tell it apart.
    value = np.where(missing, 0.0, raw / 100.0)
    return np.stack([value, missing.astype(np.float64)], axis=1).astype(np.float32)


@dataclass
class FeatureScaler:
    """Standardisation fitted on training rows only (see `fit`); constant columns pass through."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, blocks: Sequence[np.ndarray]) -> FeatureScaler:
        """Fit on feature blocks of the TRAINING lists; no other split may be passed in."""
        n = sum(b.shape[0] for b in blocks)
        if n == 0:
            raise ValueError("cannot fit the feature scaler on zero rows")
        total = sum(b.sum(axis=0, dtype=np.float64) for b in blocks)
        mean = total / n
        sq = sum(((b - mean) ** 2).sum(axis=0, dtype=np.float64) for b in blocks)
        std = np.sqrt(sq / n)
        std[std < 1e-12] = 1.0
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale).astype(np.float32)

    def save(self, path: str | Path) -> None:
        np.savez(path, mean=self.mean, scale=self.scale)

    @classmethod
    def load(cls, path: str | Path) -> FeatureScaler:
        with np.load(path) as data:
            return cls(data["mean"], data["scale"])
