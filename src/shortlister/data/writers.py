"""The dataset files the data stages write: candidate/label CSVs and the queries TSV.

Qrels are TREC files (`shortlister.evaluation.trec.write_qrels`).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd

from shortlister.core.errors import DataError


def write_queries(queries: pd.DataFrame, path: Path) -> None:
    """Write ``query_id<TAB>query<TAB>split`` with a header; tabs/newlines in text are errors."""
    lines = ["query_id\tquery\tsplit\n"]
    for qid, text, split in zip(
        queries["query_id"], queries["query"], queries["split"], strict=True
    ):
        if any(ch in str(text) for ch in "\t\r\n"):
            raise DataError("query text may not contain tabs or newlines", path=path, field="query")
        lines.append(f"{qid}\t{text}\t{split}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV via the csv module (quotes fields with commas); NaN floats become empty cells."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(frame.columns)
        for row in frame.itertuples(index=False):
            writer.writerow([_cell(v) for v in row])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.1f}"
    return str(value)
