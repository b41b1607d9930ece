"""Why a result is listed: the role's words in its headline, its closest star, its score's parts.

Words are compared as the lexical rankers compare them (`ranking.bm25`: lower case,
accents stripped, plurals folded by the S-stemmer) after the query was normalised as the
titles were (`data.clean.normalise_query`: "hr" is "human resources"); the displayed
title is the cleaned one, so its spans can be highlighted as they are.

The parts are the two terms of the blend `rank_scores` scored
(``(1-w)·query + w·stars``), computed for the k shown rows only: a few dot products
with the starred rows, never a pass over the pool.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from shortlister.ranking.bm25 import TOKEN_PATTERN, s_stem
from shortlister.ranking.indexed import QueryHits

_TOKEN = re.compile(TOKEN_PATTERN)
# Shared by nearly every headline and role: highlighting them says nothing.
STOP_WORDS = frozenset({"a", "an", "and", "at", "for", "in", "of", "on", "or", "the", "to", "with"})


def fold(word: str) -> str:
    """A word as the lexical rankers compare it."""
    word = unicodedata.normalize("NFKD", word.lower())
    return s_stem("".join(c for c in word if not unicodedata.combining(c)))


def query_terms(query: str | None) -> dict[str, str]:
    """folded word -> the word as the (normalised) query writes it, in query order."""
    terms: dict[str, str] = {}
    for word in _TOKEN.findall(query or ""):
        key = fold(word)
        if word.lower() not in STOP_WORDS and key not in terms:
            terms[key] = word.lower()
    return terms


def shared_words(title: str, terms: dict[str, str]) -> tuple[list[str], list[tuple[int, int]]]:
    """(the query's words found in `title`, in query order; their [start, end) spans in
    `title`, neighbours separated by spaces only merged into one span)."""
    found: set[str] = set()
    spans: list[tuple[int, int]] = []
    for match in _TOKEN.finditer(title):
        key = fold(match.group())
        if key not in terms:
            continue
        found.add(key)
        start, end = match.span()
        if spans and title[spans[-1][1] : start].isspace():
            start = spans.pop()[0]
        spans.append((start, end))
    return [word for key, word in terms.items() if key in found], spans


def _rows(matrix: Any, rows: Sequence[int]) -> Any:
    return matrix[np.asarray(rows, dtype=np.int64)]


def _dense(x: Any) -> np.ndarray:
    return np.asarray(x.toarray() if sp.issparse(x) else x, dtype=np.float64)


def star_similarities(matrix: Any, rows: Sequence[int], star_rows: Sequence[int]) -> np.ndarray:
    """(len(rows), len(star_rows)) dot products of the shown rows with the starred rows."""
    if not star_rows or not rows:
        return np.zeros((len(rows), len(star_rows)))
    return _dense(_rows(matrix, rows) @ _rows(matrix, star_rows).T)


def closest_stars(
    sims: np.ndarray, rows: Sequence[int], star_rows: Sequence[int]
) -> list[tuple[int, float] | None]:
    """Per shown row, (starred row, similarity) of its most similar star (not itself)."""
    out: list[tuple[int, float] | None] = []
    for i, row in enumerate(rows):
        s = sims[i].copy()
        s[[j for j, star in enumerate(star_rows) if star == row]] = -np.inf
        best = int(np.argmax(s)) if len(s) else -1
        out.append(None if best < 0 or s[best] == -np.inf else (star_rows[best], float(s[best])))
    return out


def score_parts(
    ranker: Any,
    query_scores: Any,
    rows: Sequence[int],
    star_rows: Sequence[int],
    sims: np.ndarray,
    star_weight: float,
) -> list[dict[str, Any]]:
    """Per shown row, {query, stars, star_weight} with score = (1-w)·query + w·stars."""
    query = None if query_scores is None else _query_part(ranker, query_scores, rows, star_rows)
    stars = None
    if star_rows:
        norm = float(np.linalg.norm(_dense(_rows(ranker.matrix, star_rows).sum(axis=0))))
        stars = sims.sum(axis=1) / norm if norm > 0 else np.zeros(len(rows))
    w = 0.0 if stars is None else 1.0 if query is None else float(star_weight)
    return [
        {
            "query": None if query is None else float(query[i]),
            "stars": None if stars is None else float(stars[i]),
            "star_weight": w,
        }
        for i in range(len(rows))
    ]


def _query_part(
    ranker: Any, query_scores: Any, rows: Sequence[int], star_rows: Sequence[int]
) -> np.ndarray:
    if isinstance(query_scores, QueryHits):  # through an index: only the query's vector kept
        return _dense(_rows(ranker.matrix, rows) @ query_scores.vector).reshape(-1)
    part = np.asarray(query_scores, dtype=np.float64)[np.asarray(rows, dtype=np.int64)]
    if star_rows and hasattr(ranker, "ltr"):  # a learned ranker blends its min-max'd score
        lo, hi = float(np.min(query_scores)), float(np.max(query_scores))
        part = np.ones_like(part) if hi <= lo else (part - lo) / (hi - lo)
        part = part.astype(np.float32).astype(np.float64)  # as `ltr.pool.minmax` rounds it
    return part
