"""Evaluation datasets as the pipeline lays them out: a candidate pool, queries, judgments."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from shortlister.evaluation.trec import Qrels, read_qrels, read_queries

logger = logging.getLogger(__name__)

DEFAULT = "default"


@dataclass
class Dataset:
    name: str
    candidates: pd.DataFrame  # at least id, title (cleaned)
    queries: pd.DataFrame  # query_id, query, split
    qrels: Qrels

    @property
    def splits(self) -> list[str]:
        order = ["train", "validation", "test"]
        present = set(self.queries["split"])
        return [s for s in order if s in present] + sorted(present - set(order))


def default_dataset(params: dict[str, Any]) -> Dataset:
    paths = params["paths"]
    raw = Path(paths["raw_default"])
    candidates = pd.read_parquet(Path(paths["interim"]) / "candidates.parquet")
    return Dataset(
        DEFAULT, candidates, read_queries(raw / "queries.tsv"), read_qrels(raw / "qrels.txt")
    )


def external_status(params: dict[str, Any], name: str) -> dict[str, Any]:
    path = Path(params["paths"]["external"]) / name / "status.json"
    if not path.exists():
        return {"status": "skipped", "reason": f"{path} missing (run the external stage)"}
    return json.loads(path.read_text())


def external_datasets(params: dict[str, Any]) -> list[Dataset]:
    """The external benchmarks that were built; skipped ones are logged with their reason."""
    out = []
    for name in sorted(params["data"]["external"]):
        status = external_status(params, name)
        if status.get("status") != "ok":
            logger.warning("benchmark %s skipped: %s", name, status.get("reason"))
            continue
        root = Path(params["paths"]["external"]) / name
        candidates = pd.read_csv(root / "candidates.csv", dtype=str, keep_default_na=False)
        out.append(
            Dataset(
                name, candidates, read_queries(root / "queries.tsv"), read_qrels(root / "qrels.txt")
            )
        )
    return out


def load_datasets(params: dict[str, Any]) -> list[Dataset]:
    return [default_dataset(params), *external_datasets(params)]


def dataset_names(params: dict[str, Any]) -> list[str]:
    """Names of the datasets the pipeline evaluates on, built or not."""
    return [DEFAULT, *sorted(params["data"]["external"])]
