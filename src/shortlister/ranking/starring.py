"""How much starring relevant candidates helps find the *other* relevant ones.

For each query, 1, 2, 3... relevant candidates (grade ``star_grade``) are starred, either
the ones the query-only ranking puts highest (what a recruiter sees first) or a seeded
random draw. The starred candidates are then removed from both rankings and from the
judgments, so the comparison is about the *remaining* candidates: NDCG@k of the
query-only ranking against the starred re-ranking, for each configured star weight.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shortlister.core.errors import ConfigError
from shortlister.core.progress import progress
from shortlister.embeddings.base import Matrix
from shortlister.evaluation.metrics import GAINS, ndcg_at_k
from shortlister.evaluation.trec import Qrels
from shortlister.ranking.cosine import top_k
from shortlister.ranking.starred import StarConfig, starred_scores

logger = logging.getLogger(__name__)

SELECTIONS = ("top", "random")


@dataclass
class StarringConfig:
    n_stars: Sequence[int] = (1, 2, 3)
    star_weights: Sequence[float] = (0.25, 0.5, 0.75)
    star_grade: int = 3  # only candidates judged this relevant (or more) are starred
    split: str = "test"
    random_draws: int = 5  # random star sets per query; their NDCGs are averaged
    seed: int = 13
    ndcg_k: int = 10
    gain: str = "linear"
    max_stars: int = 5

    def __post_init__(self) -> None:
        self.n_stars = [int(n) for n in self.n_stars]
        self.star_weights = [float(w) for w in self.star_weights]
        if not self.n_stars or any(not 1 <= n <= self.max_stars for n in self.n_stars):
            raise ConfigError(
                f"starring.n_stars must list numbers in 1..{self.max_stars}, got {self.n_stars}"
            )
        if not self.star_weights:
            raise ConfigError("starring.star_weights must list at least one weight")
        for w in self.star_weights:
            StarConfig(star_weight=w)  # validates [0, 1]
        keys = [weight_key(w) for w in self.star_weights]
        if len(set(keys)) != len(keys):
            raise ConfigError(
                f"starring.star_weights must differ at 2 decimals, got {self.star_weights}"
            )
        for name in ("star_grade", "random_draws", "ndcg_k"):
            if getattr(self, name) < 1:
                raise ConfigError(f"starring.{name} must be >= 1, got {getattr(self, name)}")
        if self.gain not in GAINS:
            raise ConfigError(f"starring.gain must be one of {list(GAINS)}, got {self.gain!r}")


@dataclass
class StarringResult:
    summary: dict[str, dict[str, dict[str, float]]]  # selection -> stars_<n> -> value
    per_query: pd.DataFrame = field(repr=False)


def weight_key(weight: float) -> str:
    """Metric key of one star weight: 0.5 -> 'w0_50' (no dot: DVC and MLflow nest on dots)."""
    return f"w{weight:.2f}".replace(".", "_")


def _ranked_ids(
    scores: np.ndarray, ids: Sequence[str], exclude: Sequence[int], k: int
) -> list[str]:
    """The k best ids, the excluded rows left out."""
    drop = set(exclude)
    return [ids[i] for i in top_k(scores, k + len(drop)) if i not in drop][:k]


def choose_stars(
    relevant: Sequence[int], n: int, selection: str, rng: np.random.Generator | None
) -> list[int]:
    """n rows of `relevant` (already in query-only rank order): the first, or a random draw."""
    if selection == "top":
        return list(relevant[:n])
    if rng is None:
        raise ValueError("a random selection needs a generator")
    return sorted(int(i) for i in rng.choice(np.asarray(relevant), size=n, replace=False))


def _query_rng(cfg: StarringConfig, query_id: str, n: int) -> np.random.Generator:
    # crc32, not hash(): Python salts str hashes per process.
    return np.random.default_rng([cfg.seed, zlib.crc32(query_id.encode()), n])


def _query_rows(
    matrix: Matrix,
    ids: Sequence[str],
    position: Mapping[str, int],
    query_id: str,
    query_vector: Matrix,
    judgments: Mapping[str, int],
    cfg: StarringConfig,
) -> list[dict[str, float | str | int]]:
    base = starred_scores(matrix, query_vector, [], StarConfig())
    relevant = [position[c] for c, g in judgments.items() if g >= cfg.star_grade and c in position]
    relevant.sort(key=lambda i: (-base[i], i))  # query-only rank order
    rows = []
    for n in cfg.n_stars:
        if len(relevant) < n:
            continue
        for selection in SELECTIONS:
            rng = _query_rng(cfg, query_id, n) if selection == "random" else None
            draws = 1 if selection == "top" else cfg.random_draws
            values: dict[str, list[float]] = {}
            for _ in range(draws):
                stars = choose_stars(relevant, n, selection, rng)
                starred_ids = {ids[i] for i in stars}
                remaining = {c: g for c, g in judgments.items() if c not in starred_ids}
                if not any(g > 0 for g in remaining.values()):
                    continue  # nothing left to find: NDCG is undefined
                ranked = _ranked_ids(base, ids, stars, cfg.ndcg_k)
                values.setdefault("query_only", []).append(
                    ndcg_at_k(ranked, remaining, cfg.ndcg_k, cfg.gain)
                )
                for w in cfg.star_weights:
                    scores = starred_scores(matrix, query_vector, stars, StarConfig(star_weight=w))
                    ranked = _ranked_ids(scores, ids, stars, cfg.ndcg_k)
                    values.setdefault(weight_key(w), []).append(
                        ndcg_at_k(ranked, remaining, cfg.ndcg_k, cfg.gain)
                    )
            if values:
                rows.append(
                    {
                        "query_id": query_id,
                        "selection": selection,
                        "n_stars": n,
                        **{key: float(np.mean(v)) for key, v in values.items()},
                    }
                )
    return rows


def starring_effect(
    matrix: Matrix,
    ids: Sequence[str],
    query_vectors: Matrix,
    query_ids: Sequence[str],
    qrels: Qrels,
    cfg: StarringConfig,
) -> StarringResult:
    """NDCG@k of the remaining candidates, query-only vs starred, averaged over queries.

    `query_vectors` has one row per entry of `query_ids`, as the embedder encoded them.
    A query counts for n stars only when it has at least n candidates of `star_grade`
    in the pool and some judged candidate is left once they are removed.
    """
    if query_vectors.shape[0] != len(query_ids):
        raise ValueError("expected one query vector per query id")
    position = {cid: i for i, cid in enumerate(ids)}
    rows = []
    for i, qid in enumerate(progress(query_ids, desc="starring", unit="query")):
        rows.extend(
            _query_rows(
                matrix, ids, position, qid, query_vectors[i : i + 1], qrels.get(qid, {}), cfg
            )
        )
    weights = [weight_key(w) for w in cfg.star_weights]
    per_query = pd.DataFrame(
        rows, columns=["query_id", "selection", "n_stars", "query_only", *weights]
    )
    return StarringResult(summarise(per_query, cfg), per_query)


def summarise(
    per_query: pd.DataFrame, cfg: StarringConfig
) -> dict[str, dict[str, dict[str, float]]]:
    """{selection: {stars_<n>: {n_queries, query_only, w0_50, delta_w0_50, ...}}}."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for selection in SELECTIONS:
        summary[selection] = {}
        for n in cfg.n_stars:
            sub = per_query[(per_query["selection"] == selection) & (per_query["n_stars"] == n)]
            entry: dict[str, float] = {"n_queries": float(len(sub))}
            if sub.empty:  # no value rather than NaN, which is not JSON
                logger.warning("no query has %d candidates of grade >= %d", n, cfg.star_grade)
                summary[selection][f"stars_{n}"] = entry
                continue
            base = float(sub["query_only"].mean())
            entry["query_only"] = round(base, 6)
            for w in cfg.star_weights:
                key = weight_key(w)
                value = float(sub[key].mean())
                entry[key] = round(value, 6)
                entry[f"delta_{key}"] = round(value - base, 6)
            summary[selection][f"stars_{n}"] = entry
    return summary


def markdown_table(
    summary: Mapping[str, Mapping[str, Mapping[str, float]]], cfg: StarringConfig
) -> str:
    """One row per (selection, number of stars): query-only NDCG, then each weight (+delta)."""
    label = {"top": "top-ranked relevant", "random": f"random relevant ({cfg.random_draws} draws)"}
    rows = []
    for selection, by_n in summary.items():
        for n_key, entry in by_n.items():
            cells = [label[selection], n_key.removeprefix("stars_"), f"{entry['n_queries']:.0f}"]
            if "query_only" not in entry:
                rows.append(cells + ["–"] * (1 + len(cfg.star_weights)))
                continue
            cells.append(f"{entry['query_only']:.4f}")
            for w in cfg.star_weights:
                key = weight_key(w)
                cells.append(f"{entry[key]:.4f} ({entry[f'delta_{key}']:+.4f})")
            rows.append(cells)
    headers = ["stars", "n", "queries", "query only", *[f"w={w:g}" for w in cfg.star_weights]]
    return pd.DataFrame(rows, columns=headers).to_markdown(index=False, disable_numparse=True)
