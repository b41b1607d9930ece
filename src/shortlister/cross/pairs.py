"""Training pairs for the cross-encoder: graded, never binary.

Both held-out benchmarks count *related* occupations as relevant (O*NET: the same SOC
broad group; the default data: a shared content word), so a synonym-or-not label would
teach the model to push related jobs down. Every pair here carries a graded target:

* taxonomy pairs: each source title with one partner per relation level (same
  occupation, ESCO broader/narrower link, each shared group level, random), labelled by
  `cross.scores` (the encoder's `graded_pairs`, with the cross-encoder's scores);
* mined pairs: the tuned encoder's nearest titles to a seeded sample of anchors, labelled
  by the same relation: the look-alikes the first stage confuses, with their true grade;
* default-data pairs: each TRAINING query with its judged headlines (grade / 3), with
  the tuned encoder's top headlines for it (unjudged: 0.0).

The sources and leakage rules are the title encoder's (`encoder.sources`, every title of
an evaluation set removed, O*NET refused), so nothing here has seen an evaluation title.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shortlister.cross.config import CrossConfig
from shortlister.encoder.exclusions import Exclusions, apply_exclusions
from shortlister.encoder.pairs import PairConfig, graded_pairs, relation_score
from shortlister.encoder.titles import PairSources, load_tables, title_key

logger = logging.getLogger(__name__)

COLUMNS = ["sentence1", "sentence2", "label", "kind", "source"]


@dataclass
class CrossPairs:
    pairs: pd.DataFrame  # sentence1, sentence2, label (0-1), kind, source
    counts: dict[str, Any]


def _linked(table: pd.DataFrame, links: set[tuple[str, str]]) -> dict[str, list[str]]:
    occs = set(table["occupation"])
    out: dict[str, list[str]] = {}
    for a, b in sorted(links):
        if a in occs and b in occs:
            out.setdefault(a, []).append(b)
    return out


def mined_pairs(
    table: pd.DataFrame,
    vectors: np.ndarray,
    links: set[tuple[str, str]],
    cfg: CrossConfig,
    n_anchors: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Each sampled anchor's encoder neighbours (spread over the top k), graded."""
    m = cfg.mining
    if n_anchors == 0 or len(table) < 2 or m.per_anchor == 0:
        return pd.DataFrame(columns=["sentence1", "sentence2", "label"])
    titles, occs = table["title"].to_numpy(), table["occupation"].to_numpy()
    groups = table["groups"].tolist()
    keys = table["key"].to_numpy()
    linked = _linked(table, links)
    anchors = rng.choice(len(table), size=min(n_anchors, len(table)), replace=False)
    k = min(m.top_k + 1, len(table))
    rows = []
    for start in range(0, len(anchors), 512):
        batch = anchors[start : start + 512]
        sims = vectors[batch] @ vectors.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        for row, i in enumerate(batch):
            order = top[row][np.argsort(-sims[row, top[row]], kind="stable")]
            order = [j for j in order if keys[j] != keys[i]][: m.top_k]
            for j in rng.permutation(order)[: m.per_anchor]:
                label = relation_score(int(i), int(j), occs, groups, linked, cfg.scores)
                rows.append((titles[i], titles[j], label))
    return pd.DataFrame(rows, columns=["sentence1", "sentence2", "label"])


def default_pairs(
    judged: pd.DataFrame,
    queries: list[str],
    top_headlines: list[list[str]],
    exclusions: Exclusions,
) -> pd.DataFrame:
    """Judged (query, headline, grade/3) plus each query's top unjudged headlines at 0.0."""
    keep = ~judged["sentence2"].map(title_key).isin(exclusions.titles)
    judged = judged[keep].rename(columns={"score": "label"})
    known = set(zip(judged["sentence1"], judged["sentence2"], strict=True))
    extra = [
        (q, h, 0.0)
        for q, heads in zip(queries, top_headlines, strict=True)
        for h in heads
        if (q, h) not in known and title_key(h) not in exclusions.titles
    ]
    mined = pd.DataFrame(extra, columns=["sentence1", "sentence2", "label"])
    return pd.concat([judged.assign(kind="judged"), mined.assign(kind="mined")], ignore_index=True)


def build_cross_pairs(
    cfg: CrossConfig,
    params: Mapping[str, Any],
    exclusions: Exclusions,
    encode: Any,
) -> CrossPairs:
    """Every source's graded pairs; `encode(list[str]) -> unit vectors` mines neighbours."""
    sources = PairSources.from_config(params["encoder"]["sources"])
    tables, links, judged, skipped = load_tables(sources, params)
    grading = PairConfig(scores=dict(cfg.scores), graded_per_title=1, seed=cfg.seed)
    frames, counts = [], {"skipped": skipped, "sources": {}}
    kept_tables = {}
    for name, table in tables.items():
        kept, stats = apply_exclusions(table, exclusions)
        if name != "default_train":
            kept_tables[name] = kept
        counts["sources"][name] = stats
    total_titles = sum(len(t) for t in kept_tables.values()) or 1
    for index, (name, kept) in enumerate(sorted(kept_tables.items())):
        rng = np.random.default_rng((cfg.seed, index))
        source_links = links if name == "esco" else set()
        taxonomy = graded_pairs(kept, source_links, grading, rng).rename(columns={"score": "label"})
        n_anchors = round(cfg.mining.anchors * len(kept) / total_titles)
        # Mine among a seeded sample of the source: encoding all of ESCO costs minutes.
        rows = np.sort(rng.choice(len(kept), size=min(cfg.mining.pool, len(kept)), replace=False))
        sample = kept.iloc[rows].reset_index(drop=True)
        vectors = encode(sample["title"].tolist())
        mined = mined_pairs(sample, vectors, source_links, cfg, n_anchors, rng)
        frames += [
            taxonomy.assign(kind="taxonomy", source=name),
            mined.assign(kind="mined", source=name),
        ]
        counts["sources"][name].update(taxonomy_pairs=len(taxonomy), mined_pairs=len(mined))
    if "default_train" in tables and len(judged):
        default = _default_frame(judged, params, exclusions, encode, cfg)
        frames.append(default.assign(source="default_train"))
    pairs = pd.concat(frames, ignore_index=True)
    pairs = pairs.drop_duplicates(["sentence1", "sentence2"]).reset_index(drop=True)
    order = np.random.default_rng(cfg.seed).permutation(len(pairs))
    if cfg.train.max_pairs is not None:
        order = order[: cfg.train.max_pairs]
    pairs = pairs.iloc[order].reset_index(drop=True)[COLUMNS]
    counts["total"] = len(pairs)
    counts["by_kind"] = pairs["kind"].value_counts().sort_index().to_dict()
    counts["by_source"] = pairs["source"].value_counts().sort_index().to_dict()
    bins = pd.cut(pairs["label"], [-0.01, 0.0, 0.34, 0.67, 0.99, 1.0])
    counts["labels"] = {str(k): int(v) for k, v in bins.value_counts(sort=False).items()}
    logger.info("cross-encoder pairs: %d (%s)", len(pairs), counts["by_kind"])
    return CrossPairs(pairs, counts)


def _default_frame(
    judged: pd.DataFrame,
    params: Mapping[str, Any],
    exclusions: Exclusions,
    encode: Any,
    cfg: CrossConfig,
) -> pd.DataFrame:
    """Training queries against the default pool: judged pairs plus mined top headlines."""
    interim = Path(params["paths"]["interim"])
    pool = pd.read_parquet(interim / "candidates.parquet", columns=["title"])
    headlines = pool["title"].drop_duplicates().tolist()
    queries = sorted(judged["sentence1"].unique())
    tops: list[list[str]] = [[] for _ in queries]
    if cfg.mining.default_top_k and headlines:
        sims = encode(queries) @ encode(headlines).T
        k = min(cfg.mining.default_top_k, len(headlines))
        tops = [[headlines[j] for j in np.argsort(-row, kind="stable")[:k]] for row in sims]
    return default_pairs(judged, queries, tops, exclusions)
