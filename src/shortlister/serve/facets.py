"""What a request can filter and group the pool by, as arrays built once per pool.

Per row: the location's country (the EDA's resolution, `data.locations`), the screening
score and a headline key; a request turns its filters into one boolean mask over them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shortlister.data.locations.resolve import normalise_location


class FilterError(ValueError):
    """A filter value the pool cannot answer (an unknown country); `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def headline_key(title: str) -> str:
    """Identical headlines share this key: case and runs of whitespace do not count."""
    return " ".join(str(title).casefold().split())


@dataclass(frozen=True)
class PoolFacets:
    country: np.ndarray  # (n,) int32 code into `names`; -1: unresolved
    names: list[str]  # country display names, by code
    iso3: list[str]  # by code
    screening: np.ndarray  # (n,) float64; NaN: no screening score
    group: np.ndarray  # (n,) int64 headline key code
    _members: np.ndarray  # rows sorted by group code (stable: pool order within a group)
    _starts: np.ndarray  # (n_groups + 1,) where each group's rows start in _members

    @classmethod
    def build(cls, pool: pd.DataFrame) -> PoolFacets:
        locations = pool["location"] if "location" in pool.columns else pd.Series([""] * len(pool))
        text = ["" if not isinstance(v, str) else v for v in locations.tolist()]
        codes, uniques = pd.factorize(pd.Series(text, dtype=object), sort=False)
        by_location = [normalise_location(u) for u in uniques]
        names = sorted({m.country_name for m in by_location if m is not None})
        code_of = {name: i for i, name in enumerate(names)}
        iso3 = {m.country_name: m.iso3 for m in by_location if m is not None}
        per_unique = np.array(
            [-1 if m is None else code_of[m.country_name] for m in by_location] or [-1],
            dtype=np.int32,
        )
        country = per_unique[codes] if len(codes) else np.zeros(0, dtype=np.int32)
        if "screening_score" in pool.columns:
            screening = pd.to_numeric(pool["screening_score"], errors="coerce").to_numpy(float)
        else:
            screening = np.full(len(pool), np.nan)
        keys = pool["title"].map(headline_key)
        group = pd.factorize(keys, sort=False)[0].astype(np.int64)
        members = np.argsort(group, kind="stable")
        starts = np.searchsorted(group[members], np.arange(int(group.max(initial=-1)) + 2))
        return cls(country, names, [iso3[n] for n in names], screening, group, members, starts)

    def __len__(self) -> int:
        return len(self.country)

    def country_name(self, row: int) -> str | None:
        code = int(self.country[row])
        return None if code < 0 else self.names[code]

    def mask(
        self,
        countries: Sequence[str] = (),
        screening_min: float | None = None,
        screening_max: float | None = None,
    ) -> np.ndarray | None:
        """Rows that pass, or None when nothing is filtered (every row passes)."""
        if not countries and screening_min is None and screening_max is None:
            return None
        keep = np.ones(len(self), dtype=bool)
        if countries:
            wanted = np.zeros(len(self.names) + 1, dtype=bool)  # slot 0: unresolved (-1)
            wanted[np.asarray(self._codes(countries), dtype=np.int64) + 1] = True
            keep &= wanted[self.country + 1]  # a table look-up: O(n), no sort as np.isin
        if screening_min is not None or screening_max is not None:
            lo = -math.inf if screening_min is None else screening_min
            hi = math.inf if screening_max is None else screening_max
            with np.errstate(invalid="ignore"):  # NaN (unscored) compares False: left out
                keep &= (self.screening >= lo) & (self.screening <= hi)
        return keep

    def _codes(self, countries: Sequence[str]) -> list[int]:
        by_name = {n.casefold(): i for i, n in enumerate(self.names)}
        by_name.update({c.casefold(): i for i, c in enumerate(self.iso3)})
        unknown = [c for c in countries if c.strip().casefold() not in by_name]
        if unknown:
            shown = ", ".join(self.names[:20]) + (", ..." if len(self.names) > 20 else "")
            raise FilterError(
                "countries",
                f"no candidate is located in {', '.join(map(repr, unknown))}; this pool's "
                f"countries (GET /filters): {shown or 'none resolved'}",
            )
        return [by_name[c.strip().casefold()] for c in countries]

    def members(self, row: int) -> np.ndarray:
        """Every row with `row`'s headline, in pool order."""
        g = int(self.group[row])
        return self._members[self._starts[g] : self._starts[g + 1]]

    def summary(self) -> dict[str, object]:
        """The /filters body: countries with their counts, unresolved, the screening range."""
        counts = np.bincount(self.country[self.country >= 0], minlength=len(self.names))
        order = sorted(range(len(self.names)), key=lambda i: (-counts[i], self.names[i]))
        scored = self.screening[~np.isnan(self.screening)]
        return {
            "countries": [
                {"name": self.names[i], "iso3": self.iso3[i], "n": int(counts[i])}
                for i in order
                if counts[i]
            ],
            "n_unresolved": int((self.country < 0).sum()),
            "screening": {
                "n_scored": int(scored.size),
                "min": float(scored.min()) if scored.size else None,
                "max": float(scored.max()) if scored.size else None,
            },
        }
