"""Screening scores by country and by location as written: a pair of box plots."""

from __future__ import annotations

from typing import Any

import pandas as pd

# Figures are built without pyplot: no global figure registry to leak into, no backend to
# choose, and a notebook still shows them inline.
from matplotlib.figure import Figure

from shortlister.core.errors import DataError
from shortlister.data import schema
from shortlister.eda.countries import with_countries

UNRESOLVED_LABEL = "(unresolved)"


def _box_panel(ax: Any, groups: pd.Series, scores: pd.Series, top_n: int, what: str) -> None:
    """Horizontal boxes of `scores` for the `top_n` most frequent values of `groups`."""
    scored = pd.DataFrame({"group": groups, "score": scores}).dropna(subset=["score"])
    counts = scored["group"].value_counts()
    top = sorted(counts.index[:top_n], key=lambda g: (-counts[g], str(g)))[::-1]
    data = [scored.loc[scored["group"] == g, "score"].to_numpy() for g in top]
    labels = [f"{g} (n={counts[g]:,})" for g in top]
    ax.boxplot(data, orientation="horizontal", tick_labels=labels, showmeans=True)
    ax.set_xlim(0, 100)
    ax.set_xlabel("screening score (0-100); box: quartiles, line: median, triangle: mean")
    ax.set_title(f"by {what} (the {len(top)} most frequent)")
    ax.grid(axis="x", alpha=0.3)


def score_boxplot_figure(df: pd.DataFrame, top_n_locations: int = 12) -> Figure:
    """Screening scores by resolved country (left) and by location as written (right).

    Only the `top_n_locations` most frequent countries/locations are drawn; the title says
    how many candidates have no score and are left out. Raises `DataError` when no
    candidate has a score.
    """
    if schema.SCREENING_SCORE not in df.columns or df[schema.SCREENING_SCORE].notna().sum() == 0:
        raise DataError(
            "no screening scores to plot; expected a numeric 'screening_score' column with at "
            "least one value",
            field=schema.SCREENING_SCORE,
        )
    df = with_countries(df)
    scores = df[schema.SCREENING_SCORE]
    countries = df["country_name"].fillna(UNRESOLVED_LABEL)
    locations = df[schema.LOCATION].fillna("").replace("", "(blank)")
    n_rows = min(top_n_locations, max(countries.nunique(), locations.nunique()))
    fig = Figure(figsize=(15, 2.2 + 0.42 * n_rows), layout="constrained")
    left, right = fig.subplots(1, 2)
    _box_panel(left, countries, scores, top_n_locations, "country")
    _box_panel(right, locations, scores, top_n_locations, "location as written")
    n_missing = int(scores.isna().sum())
    missing = (
        f"{n_missing:,} of {len(df):,} candidates have no screening score and are left out"
        if n_missing
        else f"all {len(df):,} candidates have a screening score"
    )
    fig.suptitle(f"Screening score by country and location\n{missing}")
    return fig
