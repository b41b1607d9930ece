"""Counts of a `resolve_locations` frame: how many rows resolved, and every distinct string
that did not, so unresolved locations are reported, never dropped."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd

logger = logging.getLogger(__name__)

UNRESOLVED = "unresolved"


@dataclass(frozen=True)
class LocationReport:
    """How many rows resolved, and every distinct string that did not (with its count)."""

    n_rows: int
    n_resolved: int
    unresolved: dict[str, int] = field(default_factory=dict)  # most frequent first

    @property
    def n_unresolved(self) -> int:
        return self.n_rows - self.n_resolved

    @property
    def n_unresolved_distinct(self) -> int:
        return len(self.unresolved)

    @property
    def share_resolved(self) -> float:
        # An empty table has nothing unresolved; 1.0 keeps "share >= threshold" checks simple.
        return self.n_resolved / self.n_rows if self.n_rows else 1.0


def location_report(resolved: pd.DataFrame) -> LocationReport:
    """Counts of a `resolve_locations` frame, and its unresolved strings with their counts."""
    missing = resolved["iso3"].isna()
    counts = resolved.loc[missing, "location"].value_counts(sort=False)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    report = LocationReport(
        n_rows=len(resolved),
        n_resolved=int((~missing).sum()),
        unresolved={str(loc): int(n) for loc, n in ordered},
    )
    if report.unresolved:
        logger.info(
            "%d of %d locations unresolved (%d distinct), e.g. %s",
            report.n_unresolved,
            report.n_rows,
            report.n_unresolved_distinct,
            list(report.unresolved)[:5],
        )
    return report


def distinct_locations(resolved: pd.DataFrame) -> pd.DataFrame:
    """Every distinct location with its row count and country, "unresolved" where none.

    Columns: location, n_candidates, country_name, iso3, how; most frequent first.
    """
    table = (
        resolved.groupby("location", sort=False, dropna=False)
        .agg(
            n_candidates=("location", "size"),
            country_name=("country_name", "first"),
            iso3=("iso3", "first"),
            how=("how", "first"),
        )
        .reset_index()
    )
    for column in ("country_name", "iso3", "how"):
        table[column] = table[column].fillna(UNRESOLVED)
    return table.sort_values(
        ["n_candidates", "location"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)
