"""Evaluation datasets as the pipeline lays them out: a candidate pool, queries, judgments.

Every stage reads queries through here, so each ranks, scores and prompts with the query
normalised exactly as candidate titles are (`normalise_query`, the params' `data.clean`):
"HR Mgr" is matched as "Human Resources Manager" on both sides. The file's text stays in
`query_raw`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from shortlister.core.errors import DataError
from shortlister.data.clean import CleanConfig, normalise_query
from shortlister.evaluation.trec import Qrels, read_qrels, read_queries

logger = logging.getLogger(__name__)

DEFAULT = "default"
QUERY_RAW = "query_raw"  # the query as the file wrote it; `query` is the normalised text


@dataclass
class Dataset:
    name: str
    candidates: pd.DataFrame  # at least id, title (cleaned)
    queries: pd.DataFrame  # query_id, query (normalised), query_raw, split
    qrels: Qrels

    @property
    def splits(self) -> list[str]:
        order = ["train", "validation", "test"]
        present = set(self.queries["split"])
        return [s for s in order if s in present] + sorted(present - set(order))


def clean_config(params: dict[str, Any]) -> CleanConfig:
    """The titles' cleaning config (`data.clean`; defaults when absent): queries use it too."""
    return CleanConfig.from_config(params.get("data", {}).get("clean"))


def load_queries(path: str | Path, cfg: CleanConfig) -> pd.DataFrame:
    """`read_queries`, each query normalised as titles are; the file's text in `query_raw`."""
    path = Path(path)
    queries = read_queries(path)
    if QUERY_RAW in queries.columns:
        raise DataError(
            f"has a '{QUERY_RAW}' column; expected it only from the pipeline (rename it)",
            path=path,
            field=QUERY_RAW,
        )
    raw = queries["query"]
    normalised = [
        normalise_query(q, cfg, path=path, field=f"query of {qid!r}")
        for qid, q in zip(queries["query_id"], raw, strict=True)
    ]
    empty = [qid for qid, q in zip(queries["query_id"], normalised, strict=True) if not q]
    if empty:
        raise DataError(
            f"queries {empty[:5]} have no text once normalised as titles are (only "
            "separators or control characters); expected words",
            path=path,
            field="query",
        )
    queries["query"] = pd.Series(normalised, index=queries.index, dtype=raw.dtype)
    queries.insert(queries.columns.get_loc("query") + 1, QUERY_RAW, raw)
    changed = int((queries["query"] != raw).sum())
    logger.info("%s: %d of %d queries changed by normalisation", path, changed, len(queries))
    return queries


def default_dataset(params: dict[str, Any]) -> Dataset:
    paths = params["paths"]
    raw = Path(paths["raw_default"])
    candidates = pd.read_parquet(Path(paths["interim"]) / "candidates.parquet")
    queries = load_queries(raw / "queries.tsv", clean_config(params))
    return Dataset(DEFAULT, candidates, queries, read_qrels(raw / "qrels.txt"))


def external_status(params: dict[str, Any], name: str) -> dict[str, Any]:
    path = Path(params["paths"]["external"]) / name / "status.json"
    if not path.exists():
        return {"status": "skipped", "reason": f"{path} missing (run the external stage)"}
    return json.loads(path.read_text())


def external_datasets(params: dict[str, Any]) -> list[Dataset]:
    """The external benchmarks that were built; skipped ones are logged with their reason."""
    out = []
    cfg = clean_config(params)
    for name in sorted(params["data"]["external"]):
        status = external_status(params, name)
        if status.get("status") != "ok":
            logger.warning("benchmark %s skipped: %s", name, status.get("reason"))
            continue
        root = Path(params["paths"]["external"]) / name
        candidates = pd.read_csv(root / "candidates.csv", dtype=str, keep_default_na=False)
        queries = load_queries(root / "queries.tsv", cfg)
        out.append(Dataset(name, candidates, queries, read_qrels(root / "qrels.txt")))
    return out


def load_datasets(params: dict[str, Any]) -> list[Dataset]:
    return [default_dataset(params), *external_datasets(params)]


def dataset_names(params: dict[str, Any]) -> list[str]:
    """Names of the datasets the pipeline evaluates on, built or not."""
    return [DEFAULT, *sorted(params["data"]["external"])]


def ranker_holdout(query_ids: Iterable[str], share: float) -> set[str]:
    """The training queries kept from the title encoder and the cross-encoder
    (`encoder.sources.ranker_holdout`), so a learned ranker can train on queries whose
    titles neither model saw. A query is in by a hash of its id: stable across runs,
    machines and the other queries of the file."""
    if not 0.0 <= share <= 1.0:
        raise DataError(f"encoder.sources.ranker_holdout must be in [0, 1], got {share!r}")

    def point(qid: str) -> float:
        return int.from_bytes(hashlib.sha256(qid.encode()).digest()[:8], "big") / 2.0**64

    return {qid for qid in query_ids if point(str(qid)) < share}
