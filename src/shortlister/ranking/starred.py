"""Starred re-ranking: the starred candidates' mean embedding steers the ranking."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shortlister.embeddings.base import Matrix, l2_normalise
from shortlister.errors import ConfigError, ShortlisterError
from shortlister.ranking.cosine import cosine_scores

MAX_STARS = 5


class StarError(ShortlisterError, ValueError):
    """Invalid starred ids: unknown, duplicated or too many."""


@dataclass
class StarConfig:
    star_weight: float = 0.5  # share of the score from similarity to the starred mean
    max_stars: int = MAX_STARS

    def __post_init__(self) -> None:
        if not 0.0 <= self.star_weight <= 1.0:
            raise ConfigError(f"star_weight must be in [0, 1], got {self.star_weight}")
        if self.max_stars < 1:
            raise ConfigError("max_stars must be >= 1")


def star_indices(ids: Sequence[str], stars: Sequence[str], max_stars: int = MAX_STARS) -> list[int]:
    """Positions of the starred ids, validated."""
    stars = [str(s) for s in stars]
    if len(stars) > max_stars:
        raise StarError(f"at most {max_stars} starred candidates are allowed, got {len(stars)}")
    dupes = sorted({s for s in stars if stars.count(s) > 1})
    if dupes:
        raise StarError(f"starred ids must be distinct; repeated: {', '.join(dupes)}")
    position = {cid: i for i, cid in enumerate(ids)}
    unknown = [s for s in stars if s not in position]
    if unknown:
        raise StarError(f"unknown candidate id(s) starred: {', '.join(unknown)}")
    return [position[s] for s in stars]


def starred_scores(
    candidates: Matrix,
    query_vector: Matrix | None,
    star_idx: Sequence[int],
    cfg: StarConfig,
) -> np.ndarray:
    """Blend query similarity with similarity to the starred candidates' mean.

    No query: stars alone. No stars: query alone. Starred candidates get +inf-free
    pinning by the caller (`pin_starred`), so their own score stays honest.
    """
    if query_vector is None and not star_idx:
        raise StarError("give a query, starred candidates, or both")
    parts: list[tuple[float, np.ndarray]] = []
    if query_vector is not None:
        parts.append(
            (1.0 - cfg.star_weight if star_idx else 1.0, cosine_scores(candidates, query_vector)[0])
        )
    if star_idx:
        centroid = l2_normalise(np.asarray(candidates[list(star_idx)].mean(axis=0)).reshape(1, -1))
        weight = cfg.star_weight if query_vector is not None else 1.0
        parts.append((weight, cosine_scores(candidates, centroid)[0]))
    return sum(w * s for w, s in parts).astype(np.float32)


def pin_starred(order: np.ndarray, star_idx: Sequence[int]) -> np.ndarray:
    """Move starred positions to the front (in star order); the rest keep their order."""
    starred = list(star_idx)
    rest = order[~np.isin(order, starred)]
    return np.concatenate([np.asarray(starred, dtype=np.int64), rest])
