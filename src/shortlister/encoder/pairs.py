"""Training pairs for the title encoder, from the title tables of its sources.

* synonym pairs (anchor, positive[, negative]): two titles of one occupation; the optional
  hard negative is a title of a *neighbouring* occupation (same finest group);
* graded pairs (sentence1, sentence2, score) for the relatedness phase: same occupation 1.0,
  then lower scores for an ESCO broader/narrower link and for each shared group level, 0.0
  for a random other occupation.

``group_per_title`` adds weaker positives: titles of *other* occupations in the same finest
group (SOC broad group, ISCO unit group) as extra in-batch-negatives pairs.

The tables come from `shortlister.encoder.titles` (which sources, see ``PairSources``),
minus what `shortlister.encoder.exclusions` holds out; ``PairSet.counts`` reports what
each source lost.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shortlister.core.checks import build, check_int
from shortlister.core.errors import ConfigError
from shortlister.encoder.exclusions import Exclusions, apply_exclusions
from shortlister.encoder.titles import SOURCES, PairSources, load_tables, title_key

logger = logging.getLogger(__name__)

KINDS: tuple[str, ...] = ("synonym", "group", "negative", "graded")  # one generator each


@dataclass
class PairConfig:
    per_title: int = 2  # other titles of its occupation each title is paired with
    max_pairs: int | None = None  # random subsample of synonym pairs (None: all)
    hard_negatives: bool = False  # add a neighbouring occupation's title to each pair
    # Weaker positives: each title of these sources with `group_per_title` titles of OTHER
    # occupations in its finest group (SOC broad group, ISCO unit group), as synonym pairs.
    group_per_title: int = 0
    group_sources: list[str] = field(default_factory=lambda: ["bls_soc"])
    graded_per_title: int = 1  # graded pairs drawn per title and relation level
    max_graded: int | None = 40_000
    # Scores of the relatedness phase, by the closest relation of the two titles.
    scores: dict[str, float] = field(
        default_factory=lambda: {
            "same": 1.0,
            "linked": 0.8,
            "group1": 0.6,
            "group2": 0.4,
            "group3": 0.2,
            "random": 0.0,
        }
    )
    seed: int = 13

    def __post_init__(self) -> None:
        for name in ("per_title", "graded_per_title"):
            check_int(f"encoder.pairs.{name}", getattr(self, name), minimum=1)
        check_int("encoder.pairs.group_per_title", self.group_per_title, minimum=0)
        unknown = sorted(set(self.group_sources) - set(SOURCES) - {"default_train"})
        if unknown or "default_train" in self.group_sources:
            raise ConfigError(
                f"encoder.pairs.group_sources: {sorted(self.group_sources)} must name sources "
                f"with groups, out of {[s for s in SOURCES if s != 'default_train']}"
            )
        missing = sorted(
            {"same", "linked", "group1", "group2", "group3", "random"} - set(self.scores)
        )
        if missing:
            raise ConfigError(f"encoder.pairs.scores: missing {missing}")
        if not all(0.0 <= float(v) <= 1.0 for v in self.scores.values()):
            raise ConfigError(f"encoder.pairs.scores must lie in [0, 1], got {dict(self.scores)}")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> PairConfig:
        """From ``encoder.pairs`` (with ``seed`` added); unknown keys are refused."""
        return build(cls, cfg, "encoder.pairs")


@dataclass
class PairSet:
    synonyms: pd.DataFrame  # anchor, positive[, negative], source
    graded: pd.DataFrame  # sentence1, sentence2, score, source
    counts: dict[str, Any]


def synonym_pairs(table: pd.DataFrame, cfg: PairConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Each title with `per_title` other titles of its occupation; unordered duplicates once."""
    seen: set[tuple[str, str]] = set()
    rows = []
    for _, group in table.groupby("occupation", sort=True):
        titles = group["title"].tolist()
        if len(titles) < 2:
            continue
        for i, title in enumerate(titles):
            others = [j for j in range(len(titles)) if j != i]
            for j in rng.permutation(others)[: cfg.per_title]:
                pair = (title, titles[j])
                if (pair[1], pair[0]) not in seen and pair not in seen:
                    seen.add(pair)
                    rows.append((*pair, group["occupation"].iloc[0]))
    return pd.DataFrame(rows, columns=["anchor", "positive", "occupation"])


def group_pairs(table: pd.DataFrame, per_title: int, rng: np.random.Generator) -> pd.DataFrame:
    """Each title with `per_title` titles of other occupations in its finest group."""
    occs, titles = table["occupation"].to_numpy(), table["title"].to_numpy()
    by_group: dict[str, list[int]] = {}
    for idx, groups in enumerate(table["groups"]):
        if groups:
            by_group.setdefault(groups[0], []).append(idx)
    seen: set[tuple[str, str]] = set()
    rows = []
    for members in by_group.values():
        for i in members:
            others = [j for j in rng.permutation(members) if occs[j] != occs[i]][:per_title]
            for j in others:
                pair = (titles[i], titles[j])
                if pair not in seen and (pair[1], pair[0]) not in seen:
                    seen.add(pair)
                    rows.append((*pair, occs[i]))
    return pd.DataFrame(rows, columns=["anchor", "positive", "occupation"])


def query_pairs(table: pd.DataFrame) -> pd.DataFrame:
    """(query, headline): the first title of each occupation is its query (see
    `default_train_table`), the rest are its grade-3 headlines."""
    rows = []
    for occupation, group in table.groupby("occupation", sort=True):
        query, *headlines = group["title"].tolist()
        rows.extend((query, h, occupation) for h in headlines)
    return pd.DataFrame(rows, columns=["anchor", "positive", "occupation"])


def add_hard_negatives(
    pairs: pd.DataFrame, table: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """A title of another occupation in the anchor's finest group (any other when none)."""
    occ_group = table.drop_duplicates("occupation").set_index("occupation")["groups"]
    by_group: dict[str, list[int]] = {}
    for idx, groups in enumerate(table["groups"]):
        if groups:
            by_group.setdefault(groups[0], []).append(idx)
    titles, occs = table["title"].to_numpy(), table["occupation"].to_numpy()
    negatives = []
    for occ in pairs["occupation"]:
        groups = occ_group.get(occ, ())
        pool = by_group.get(groups[0], []) if groups else []
        choice = None
        for idx in rng.permutation(pool)[:20] if pool else []:
            if occs[idx] != occ:
                choice = titles[idx]
                break
        while choice is None:
            idx = int(rng.integers(len(titles)))
            choice = titles[idx] if occs[idx] != occ else None
        negatives.append(choice)
    return pairs.assign(negative=negatives)


def graded_pairs(
    table: pd.DataFrame, links: set[tuple[str, str]], cfg: PairConfig, rng: np.random.Generator
) -> pd.DataFrame:
    """Per title and relation level (same, linked, each group level, random) one partner."""
    titles, occs = table["title"].to_numpy(), table["occupation"].to_numpy()
    groups = table["groups"].tolist()
    by_occ = table.groupby("occupation").indices
    depth = max((len(g) for g in groups), default=0)
    by_level = [{} for _ in range(depth)]
    for idx, codes in enumerate(groups):
        for level, code in enumerate(codes):
            by_level[level].setdefault(code, []).append(idx)
    linked: dict[str, list[str]] = {}
    for a, b in sorted(links):  # sorted: a set's order changes between processes
        if a in by_occ and b in by_occ:
            linked.setdefault(a, []).append(b)
    rows = []
    for i in range(len(table)):
        for _ in range(cfg.graded_per_title):
            partners = [_pick(rng, by_occ[occs[i]], exclude=i)]
            if occs[i] in linked:
                other = linked[occs[i]][int(rng.integers(len(linked[occs[i]])))]
                partners.append(_pick(rng, by_occ[other]))
            for level, code in enumerate(groups[i]):
                partners.append(_pick(rng, by_level[level][code], exclude_occ=(occs, occs[i])))
            partners.append(int(rng.integers(len(table))))
            for j in partners:
                if j is not None and j != i:
                    score = relation_score(i, j, occs, groups, linked, cfg.scores)
                    rows.append((titles[i], titles[j], score))
    return pd.DataFrame(rows, columns=["sentence1", "sentence2", "score"])


def _pick(
    rng: np.random.Generator,
    members: Any,
    exclude: int | None = None,
    exclude_occ: tuple[np.ndarray, str] | None = None,
) -> int | None:
    for _ in range(10):
        j = int(members[int(rng.integers(len(members)))])
        if j == exclude or (exclude_occ is not None and exclude_occ[0][j] == exclude_occ[1]):
            continue
        return j
    return None


def relation_score(
    i: int,
    j: int,
    occs: np.ndarray,
    groups: list[tuple[str, ...]],
    linked: dict[str, list[str]],
    scores: Mapping[str, float],
) -> float:
    if occs[i] == occs[j]:
        return float(scores["same"])
    if occs[j] in linked.get(occs[i], ()):
        return float(scores["linked"])
    for level, (a, b) in enumerate(zip(groups[i], groups[j], strict=False)):
        if a == b:
            return float(scores[f"group{min(level + 1, 3)}"])
    return float(scores["random"])


def build_pairs(
    sources: PairSources, cfg: PairConfig, params: Mapping[str, Any], exclusions: Exclusions
) -> PairSet:
    """Synonym and graded pairs of every enabled source, evaluation titles removed.

    Each source and each kind of pair draws from its own seeded generator, so the same
    config gives the same pairs in every process, and turning one source or option on or
    off leaves the other sources' pairs as they were.
    """

    def rng_for(name: str, kind: str) -> np.random.Generator:
        return np.random.default_rng((cfg.seed, SOURCES.index(name), KINDS.index(kind)))

    tables, links, judged, skipped = load_tables(sources, params)
    counts: dict[str, Any] = {
        "skipped": skipped,
        "evaluation_sets": exclusions.described,
        "seen_benchmarks": exclusions.seen,
    }
    synonyms, graded = [], []
    for name, table in tables.items():
        kept, stats = apply_exclusions(table, exclusions)
        if name == "default_train":
            pairs = query_pairs(kept)
        else:
            pairs = synonym_pairs(kept, cfg, rng_for(name, "synonym"))
        n_group = 0
        if cfg.group_per_title and name in cfg.group_sources:
            extra = group_pairs(kept, cfg.group_per_title, rng_for(name, "group"))
            n_group = len(extra)
            pairs = pd.concat([pairs, extra], ignore_index=True)
        if cfg.hard_negatives and len(pairs):
            pairs = add_hard_negatives(pairs, kept, rng_for(name, "negative"))
        synonyms.append(pairs.assign(source=name))
        if name == "default_train":
            grade = _judged_pairs(judged, exclusions, rng_for(name, "graded"))
        else:
            links_of = links if name == "esco" else set()
            grade = graded_pairs(kept, links_of, cfg, rng_for(name, "graded"))
        graded.append(grade.assign(source=name))
        counts[name] = {
            **stats,
            "synonym_pairs": len(pairs) - n_group,
            "group_pairs": n_group,
            "graded_pairs": len(grade),
        }
    syn = _cap(
        pd.concat(synonyms, ignore_index=True), cfg.max_pairs, np.random.default_rng(cfg.seed)
    )
    gra = _cap(
        pd.concat(graded, ignore_index=True), cfg.max_graded, np.random.default_rng(cfg.seed)
    )
    counts["total"] = {"synonym_pairs": len(syn), "graded_pairs": len(gra)}
    counts["synonym_pairs_by_source"] = syn["source"].value_counts().sort_index().to_dict()
    columns = ["anchor", "positive", *(["negative"] if cfg.hard_negatives else []), "source"]
    logger.info("encoder pairs: %s", counts["total"])
    return PairSet(syn[columns], gra, counts)


def _judged_pairs(
    judged: pd.DataFrame, exclusions: Exclusions, rng: np.random.Generator
) -> pd.DataFrame:
    """The default training queries' judged headlines (grade/3) plus as many unjudged (0.0)."""
    if judged.empty:
        return judged
    keep = ~judged["sentence2"].map(title_key).isin(exclusions.titles)
    judged = judged[keep]
    pool = judged["sentence2"].unique()
    negatives = judged.assign(sentence2=rng.choice(pool, size=len(judged)), score=0.0)
    # A random headline may be judged for that query after all: the judged score wins.
    out = pd.concat([judged, negatives], ignore_index=True)
    return out.drop_duplicates(["sentence1", "sentence2"]).reset_index(drop=True)


def _cap(frame: pd.DataFrame, limit: int | None, rng: np.random.Generator) -> pd.DataFrame:
    """Shuffled (seeded), at most `limit` rows."""
    order = rng.permutation(len(frame))
    if limit is not None:
        order = order[:limit]
    return frame.iloc[order].reset_index(drop=True)
