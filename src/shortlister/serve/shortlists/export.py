"""A shortlist as a file: CSV a spreadsheet shows without running, or JSON.

Each starred candidate's row carries the pool's fields (title, location, screening
score) when the served pool still holds that id, else blanks.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from shortlister.core.outputs import escape_cell
from shortlister.serve.shortlists.store import ShortlistRecord

CandidateLookup = Callable[[str], Mapping[str, Any] | None]
CSV_COLUMNS = (
    "shortlist", "query", "method", "position", "candidate_id", "title", "location",
    "screening_score", "note", "starred_at",
)  # fmt: skip


def export_json(record: ShortlistRecord, candidate: CandidateLookup) -> dict[str, Any]:
    """The shortlist and its starred candidates, in starring order, with their notes."""
    return {
        "id": record.id,
        "name": record.name,
        "query": record.query,
        "method": record.method,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
        "stars": _rows(record, candidate),
    }


def export_csv(record: ShortlistRecord, candidate: CandidateLookup) -> str:
    """One row per starred candidate; text that a spreadsheet would run as a formula
    (= + - @ tab, carriage return first) gets a leading apostrophe (core.outputs)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    shared = {"shortlist": record.name, "query": record.query, "method": record.method}
    for row in _rows(record, candidate):
        values = {**shared, **row, "candidate_id": row["id"]}
        writer.writerow([_cell(values[c]) for c in CSV_COLUMNS])
    return buffer.getvalue()


def _rows(record: ShortlistRecord, candidate: CandidateLookup) -> list[dict[str, Any]]:
    rows = []
    for position, star in enumerate(record.stars, start=1):
        found = candidate(star.candidate_id) or {}
        rows.append(
            {
                "position": position,
                "id": star.candidate_id,
                "title": found.get("title"),
                "location": found.get("location"),
                "screening_score": found.get("screening_score"),
                "note": star.note,
                "starred_at": _iso(star.starred_at),
                "in_pool": bool(found),
            }
        )
    return rows


def _iso(moment: datetime) -> str:
    # As the API's other timestamps (pydantic's): UTC written "Z".
    return moment.isoformat().replace("+00:00", "Z")


def _cell(value: object) -> object:
    return "" if value is None else escape_cell(value)
