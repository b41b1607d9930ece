"""Evaluation-only benchmarks built from public occupation taxonomies in ../shared/data.

Each benchmark turns a title-to-occupation list into a retrieval task: the candidates are
job titles, the queries are occupation names, and the grade of a pair follows from how
close the two sit in the taxonomy. The files live outside the repository, so a missing
file raises `ExternalDataMissing` and the external stage records "skipped: <reason>".

* ``bls_soc``: BLS SOC 2018 direct-match titles. 3 = same 6-digit SOC code, 2 = same broad
  group (``13-107``), 1 = same minor group (``13-1``).
* ``esco``: ESCO v1.2.0 occupations. Candidates are alternative labels, queries preferred
  labels. 3 = same occupation, 2 = same ISCO-08 unit group (4 digits), 1 = same minor
  group (3 digits).
* ``onet``: O*NET 29.3 alternate titles, title-to-title: each query is one alternate title
  held out of the pool (one per sampled occupation), the candidates are the other alternate
  titles. 3 = same O*NET-SOC occupation, 2 = same SOC broad group (``13-107``), 1 = same
  minor group (``13-1``). O*NET is evaluation only: nothing may train or tune on it (the
  title encoder removes every title of this benchmark from its training pairs).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shortlister.core.checks import build, check_int
from shortlister.core.errors import ConfigError, DataError, ShortlisterError
from shortlister.data.sources import read_bls_soc, read_esco, read_onet
from shortlister.data.writers import write_csv, write_queries
from shortlister.evaluation.trec import qrels_from_frame, write_qrels

logger = logging.getLogger(__name__)

DEFAULT_PATHS: dict[str, str] = {
    "bls_soc": "../shared/data/bls_soc_2018_direct_match_titles.tsv",
    "esco": "../shared/data/esco_occupations_en.csv",
    "onet": "../shared/data/onet_alternate_titles.tsv",
}

# Below "same occupation" (grade 3): (prefix length of the group code, grade), most specific
# first. A SOC code 13-1071 is in broad group 13-107(0) and minor group 13-1(000).
BLS_LEVELS: tuple[tuple[int, int], ...] = ((6, 2), (4, 1))
ESCO_LEVELS: tuple[tuple[int, int], ...] = ((4, 2), (3, 1))  # ISCO unit group, minor group

# An O*NET query title needs this many titles in its occupation: itself plus >= 2 to find.
ONET_MIN_TITLES = 3


class ExternalDataMissing(ShortlisterError):
    """The benchmark's source file is absent; the message says which file and why it matters."""


@dataclass
class ExternalConfig:
    """Which benchmark to build and how much of it; validated on construction."""

    name: str = "bls_soc"  # "bls_soc", "esco" or "onet"
    path: str | None = None  # relative to the working directory; None -> DEFAULT_PATHS[name]
    max_queries: int = 200
    max_candidates: int | None = None  # subsample titles for fast configs
    seed: int = 13

    def __post_init__(self) -> None:
        if self.name not in DEFAULT_PATHS:
            raise ConfigError(
                f"unknown external benchmark {self.name!r}; expected one of {sorted(DEFAULT_PATHS)}"
            )
        if self.path is None:
            self.path = DEFAULT_PATHS[self.name]
        if not isinstance(self.path, str | Path) or not str(self.path).strip():
            raise ConfigError(f"path must be a non-empty string, got {self.path!r}")
        self.path = str(self.path)
        check_int("max_queries", self.max_queries, minimum=1)
        if self.max_candidates is not None:
            check_int("max_candidates", self.max_candidates, minimum=1)
        check_int("seed", self.seed, minimum=0)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> ExternalConfig:
        """From a ``data.external.<name>`` mapping with ``name`` added; unknown keys are refused."""
        return build(cls, cfg, "data.external")


@dataclass
class Benchmark:
    name: str
    candidates: pd.DataFrame  # id, title
    queries: pd.DataFrame  # query_id, query, split (all "test": evaluation only)
    qrels: pd.DataFrame  # query_id, candidate_id, grade (1-3)
    source: dict[str, Any] = field(default_factory=dict)  # path, md5, row counts


# ---------------------------------------------------------------------------- reading


def _resolve(cfg: ExternalConfig) -> Path:
    path = Path(str(cfg.path))
    if not path.is_file():
        raise ExternalDataMissing(
            f"{cfg.name} source file not found at {path} (resolved to {path.resolve()}); "
            "it is not shipped with the repository, see shared/data/SOURCES.md"
        )
    return path


def _file_md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _bls_titles(path: Path) -> tuple[pd.DataFrame, int]:
    """(code, occupation, title) rows, identical titles within a code merged; and the raw count."""
    titles = read_bls_soc(path)
    return titles[titles["title"] != ""].drop_duplicates(["code", "title"]), len(titles)


def _esco_titles(path: Path) -> tuple[pd.DataFrame, int]:
    """(code = conceptUri, occupation = preferredLabel, title = altLabel, group = iscoGroup)."""
    frame = read_esco(path)
    rows = [
        (uri, label, alt, group)
        for uri, label, alts, group in zip(
            frame["code"], frame["occupation"], frame["alternatives"], frame["group"], strict=True
        )
        for alt in alts
    ]
    titles = pd.DataFrame(rows, columns=["code", "occupation", "title", "group"])
    return titles.drop_duplicates(["code", "title"]), len(frame)


def _onet_titles(path: Path) -> tuple[pd.DataFrame, int]:
    """(code = O*NET-SOC code, occupation, title = alternate title, group = code)."""
    frame = read_onet(path)
    # The group is the code: "13-1071.00"[:6] is the broad group, [:4] the minor.
    titles = frame.assign(group=frame["code"])
    return titles[titles["title"] != ""].drop_duplicates(["code", "title"]), len(frame)


# ---------------------------------------------------------------------------- building


def _subsample(
    titles: pd.DataFrame, max_candidates: int | None, rng: np.random.Generator
) -> pd.DataFrame:
    if max_candidates is None or max_candidates >= len(titles):
        return titles
    keep = np.sort(rng.choice(len(titles), size=max_candidates, replace=False))
    return titles.iloc[keep]


def _pick_queries(
    full: pd.DataFrame,
    kept: pd.DataFrame,
    max_queries: int,
    rng: np.random.Generator,
    path: Path,
) -> pd.DataFrame:
    """Occupations with >= 2 titles in the full list and >= 1 among the kept candidates."""
    sizes = full.groupby("code").size()
    eligible = sorted(set(sizes[sizes >= 2].index) & set(kept["code"]))
    if not eligible:
        raise DataError(
            "no occupation has >= 2 titles with one among the candidates; "
            "the file is too small or max_candidates too low",
            path=path,
        )
    chosen = sorted(eligible[i] for i in rng.permutation(len(eligible))[:max_queries])
    names = full.drop_duplicates("code").set_index("code")["occupation"]
    width = max(3, len(str(len(chosen))))
    return pd.DataFrame(
        {
            "query_id": [f"q{i:0{width}d}" for i in range(1, len(chosen) + 1)],
            "query": [names[c] for c in chosen],
            "split": "test",
            "code": chosen,
        }
    )


def _grades(
    queries: pd.DataFrame, candidates: pd.DataFrame, levels: tuple[tuple[int, int], ...]
) -> pd.DataFrame:
    """Same occupation `code` is 3; else the grade of the longest shared `group` prefix."""
    pairs = []
    for level, (length, grade) in enumerate(((None, 3), *levels)):
        q_key = queries["code"] if length is None else queries["group"].str[:length]
        c_key = candidates["code"] if length is None else candidates["group"].str[:length]
        joined = pd.DataFrame({"query_id": queries["query_id"], "k": q_key.to_numpy()}).merge(
            pd.DataFrame({"candidate_id": candidates["id"], "k": c_key.to_numpy()}), on="k"
        )
        pairs.append(joined.assign(grade=grade, level=level))
    qrels = pd.concat(pairs, ignore_index=True).sort_values(["query_id", "candidate_id", "level"])
    qrels = qrels.drop_duplicates(["query_id", "candidate_id"])  # keep the closest level
    return (
        qrels[["query_id", "candidate_id", "grade"]]
        .reset_index(drop=True)
        .astype({"grade": "int64"})
    )


def build_external_benchmark(cfg: ExternalConfig) -> Benchmark:
    """Read the source file named by `cfg` and turn it into candidates, queries and qrels.

    Raises `ExternalDataMissing` when the file is absent and `DataError` when it is malformed.
    """
    path = _resolve(cfg)
    if cfg.name == "onet":
        return _build_title_benchmark(cfg, path)
    if cfg.name == "bls_soc":
        titles, n_rows = _bls_titles(path)
        titles = titles.assign(group=titles["code"])
        levels, prefix = BLS_LEVELS, "bls"
    else:
        titles, n_rows = _esco_titles(path)
        levels, prefix = ESCO_LEVELS, "esco"
    rng = np.random.default_rng(cfg.seed)
    kept = _subsample(titles.reset_index(drop=True), cfg.max_candidates, rng)
    width = max(5, len(str(len(kept))))
    candidates = kept.assign(id=[f"{prefix}-{i:0{width}d}" for i in range(1, len(kept) + 1)])
    queries = _pick_queries(titles, kept, cfg.max_queries, rng, path)
    queries["group"] = queries["code"].map(
        titles.drop_duplicates("code").set_index("code")["group"]
    )
    qrels = _grades(queries, candidates, levels)
    return _benchmark(cfg, path, n_rows, len(titles), candidates, queries, qrels)


def _build_title_benchmark(cfg: ExternalConfig, path: Path) -> Benchmark:
    """O*NET: one held-out alternate title per sampled occupation is the query.

    Every candidate spelled like a query (case-insensitively) leaves the pool, so exact
    string match earns nothing; a query whose occupation kept no candidate is dropped.
    """
    titles, n_rows = _onet_titles(path)
    titles = titles.reset_index(drop=True)
    rng = np.random.default_rng(cfg.seed)
    sizes = titles.groupby("code").size()
    eligible = sorted(sizes[sizes >= ONET_MIN_TITLES].index)
    if not eligible:
        raise DataError(f"no occupation has >= {ONET_MIN_TITLES} alternate titles", path=path)
    codes = sorted(eligible[i] for i in rng.permutation(len(eligible))[: cfg.max_queries])
    picks = [
        titles.index[titles["code"] == code][int(rng.integers(int(sizes[code])))] for code in codes
    ]
    queries = titles.loc[picks, ["code", "group", "title"]].rename(columns={"title": "query"})
    queries = queries.drop_duplicates("query")
    held_out = set(queries["query"].str.casefold())
    pool = titles[~titles["title"].str.casefold().isin(held_out)].reset_index(drop=True)
    kept = _subsample(pool, cfg.max_candidates, rng)
    queries = queries[queries["code"].isin(set(kept["code"]))].reset_index(drop=True)
    width = max(5, len(str(len(kept))))
    candidates = kept.assign(id=[f"onet-{i:0{width}d}" for i in range(1, len(kept) + 1)])
    qwidth = max(3, len(str(len(queries))))
    queries.insert(0, "query_id", [f"q{i:0{qwidth}d}" for i in range(1, len(queries) + 1)])
    queries["split"] = "test"
    qrels = _grades(queries, candidates, BLS_LEVELS)
    return _benchmark(cfg, path, n_rows, len(titles), candidates, queries, qrels)


def _benchmark(
    cfg: ExternalConfig,
    path: Path,
    n_rows: int,
    n_titles: int,
    candidates: pd.DataFrame,
    queries: pd.DataFrame,
    qrels: pd.DataFrame,
) -> Benchmark:
    """The benchmark plus where it came from (file, checksum, counts), logged."""
    source = {
        "path": str(path),
        "md5": _file_md5(path),
        "rows": n_rows,
        "titles": n_titles,
        "candidates": len(candidates),
        "queries": len(queries),
        "qrels": len(qrels),
    }
    logger.info("benchmark %s: %s", cfg.name, source)
    return Benchmark(
        name=cfg.name,
        candidates=candidates[["id", "title"]].reset_index(drop=True),
        queries=queries[["query_id", "query", "split"]],
        qrels=qrels,
        source=source,
    )


def write_benchmark(b: Benchmark, out_dir: Path) -> dict[str, int]:
    """Write candidates.csv (id,title), queries.tsv and qrels.txt (TREC); return counts."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(b.candidates[["id", "title"]], out_dir / "candidates.csv")
    write_queries(b.queries, out_dir / "queries.tsv")
    write_qrels(out_dir / "qrels.txt", qrels_from_frame(b.qrels))
    counts = {"candidates": len(b.candidates), "queries": len(b.queries), "qrels": len(b.qrels)}
    for grade in (1, 2, 3):
        counts[f"qrels_grade{grade}"] = int((b.qrels["grade"] == grade).sum())
    return counts
