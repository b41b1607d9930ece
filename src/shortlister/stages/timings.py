"""The pipeline's wall time in one place: reports/timings.json and reports/timings.md.

Each stage writes reports/timings/<stage run>.json (`tracked` in stages/common.py). The
evaluate stage depends on that folder, so DVC runs it after every stage that writes
there; it gathers the records, adds its own and writes the summary. Records are in the
order the stages last ran, which is always an order the pipeline allows (upstream
first): DVC re-runs a changed stage together with everything downstream of it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shortlister.core.outputs import write_text
from shortlister.stages.common import TIMINGS_DIR, write_json

logger = logging.getLogger(__name__)

REQUIRED = ("stage", "wall_seconds", "started")


def read_timings(folder: str | Path) -> list[dict[str, Any]]:
    """The stage records in `folder` (*.json); a file that is not one is left out (warned)."""
    records = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning("%s: unreadable timing record (%s); left out", path, exc)
            continue
        if not isinstance(record, dict) or any(k not in record for k in REQUIRED):
            logger.warning("%s: not a timing record (needs %s); left out", path, REQUIRED)
            continue
        records.append(record)
    return records


def aggregate_timings(
    records: Iterable[Mapping[str, Any]], own: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Records in the order the stages started (`own`, the evaluate stage's, last), each
    stage's wall seconds, their total and count. One record per stage: the latest."""
    latest: dict[str, Mapping[str, Any]] = {}
    for record in sorted(records, key=_started):
        latest[str(record["stage"])] = record
    if own is not None:
        latest.pop(str(own["stage"]), None)
    ordered = [dict(r) for r in sorted(latest.values(), key=_started)]
    ordered += [dict(own)] if own is not None else []
    wall = {str(r["stage"]): float(r["wall_seconds"]) for r in ordered}
    return {
        "stages": ordered,
        "wall_seconds": wall,
        "total_wall_seconds": round(sum(wall.values()), 3),
        "n_stages": len(ordered),
    }


def markdown_table(summary: Mapping[str, Any]) -> str:
    total = summary["total_wall_seconds"]
    lines = [
        "# Stage wall times",
        "",
        "Each stage's last run, in the order they ran (`dvc repro` runs a stage only when "
        "it changed; the others keep their earlier time). Wall seconds count the stage "
        "process from its start, imports included.",
        "",
        "| stage | wall s | share | CPU s | CPUs | started (UTC) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in summary["stages"]:
        share = f"{100 * r['wall_seconds'] / total:.1f}%" if total else ""
        cpu = "" if r.get("cpu_seconds") is None else f"{r['cpu_seconds']:.1f}"
        started = str(r["started"]).replace("T", " ")[:19]
        lines.append(
            f"| `{r['stage']}` | {r['wall_seconds']:.1f} | {share} | {cpu} | "
            f"{r.get('cpu_count', '')} | {started} |"
        )
    lines.append(f"| **total** ({summary['n_stages']} stages) | {total:.1f} | 100% | | | |")
    return "\n".join(lines) + "\n"


def write_timings(reports: str | Path, own: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """reports/timings.json and reports/timings.md from reports/timings/ plus `own`."""
    reports = Path(reports)
    summary = aggregate_timings(read_timings(reports / TIMINGS_DIR), own)
    write_json(reports / "timings.json", summary)
    write_text(reports / "timings.md", markdown_table(summary))
    logger.info(
        "%d stages, %.1f s wall in all (%s)",
        summary["n_stages"],
        summary["total_wall_seconds"],
        reports / "timings.md",
    )
    return summary


def _started(record: Mapping[str, Any]) -> tuple[datetime, str]:
    started = datetime.fromisoformat(str(record["started"]))
    if started.tzinfo is None:  # naive: taken as UTC, as the stages write it
        started = started.replace(tzinfo=UTC)
    return started, str(record["stage"])
