"""Candidates by resolved country: the country columns, and the per-country summary."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shortlister.core.errors import DataError
from shortlister.data import schema
from shortlister.data.locations.resolve import resolve_locations


def with_countries(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with country_name and iso3 columns, resolving locations if they are missing."""
    if {"country_name", "iso3"} <= set(df.columns):
        return df
    if schema.LOCATION not in df.columns:
        raise DataError(
            f"expected a '{schema.LOCATION}' column; found columns: {', '.join(map(str, df))}",
            field=schema.LOCATION,
        )
    resolved = resolve_locations(df[schema.LOCATION])
    return df.assign(country_name=resolved["country_name"], iso3=resolved["iso3"])


def country_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Candidates per resolved country: iso3, country, n_candidates, n_scored, mean_score.

    Locations are resolved when `df` has no iso3 column. Unresolved rows are not counted
    here (`shortlister.data.locations.report.location_report` lists them). mean_score is
    NaN for a country without scores. Most candidates first.
    """
    df = with_countries(df)
    scores = (
        df[schema.SCREENING_SCORE]
        if schema.SCREENING_SCORE in df.columns
        else pd.Series(np.nan, index=df.index)
    )
    frame = pd.DataFrame({"iso3": df["iso3"], "country": df["country_name"], "score": scores})
    summary = (
        frame.dropna(subset=["iso3"])
        .groupby("iso3", sort=False)
        .agg(
            country=("country", "first"),
            n_candidates=("iso3", "size"),
            n_scored=("score", "count"),
            mean_score=("score", "mean"),
        )
        .reset_index()
    )
    summary["mean_score"] = summary["mean_score"].astype("float64").round(1)
    return summary.sort_values(
        ["n_candidates", "iso3"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)
