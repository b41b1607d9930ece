"""A world map of where candidates are, from `shortlister.eda.countries.country_summary`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go


def _count_trace(summary: pd.DataFrame) -> go.Choropleth:
    counts = summary["n_candidates"].to_numpy(dtype=float)
    # Log colour: one country usually dwarfs the rest and would leave every other one pale.
    top = max(1, math.ceil(math.log10(counts.max())))
    ticks = list(range(top + 1))
    mean = summary["mean_score"].map(lambda v: "no scores" if pd.isna(v) else f"{v:.1f}")
    return go.Choropleth(
        locations=summary["iso3"],
        locationmode="ISO-3",
        z=np.log10(counts),
        zmin=0,
        zmax=top,
        colorscale="Blues",
        marker_line_color="white",
        marker_line_width=0.5,
        colorbar={
            "title": {"text": "candidates"},
            "tickvals": ticks,
            "ticktext": [f"{10**t:,}" for t in ticks],
        },
        customdata=np.column_stack([summary["country"], summary["n_candidates"], mean]),
        hovertemplate=(
            "<b>%{customdata[0]}</b><br>candidates: %{customdata[1]}"
            "<br>mean screening score: %{customdata[2]}<extra></extra>"
        ),
        name="candidates",
    )


def _score_trace(summary: pd.DataFrame) -> go.Choropleth:
    scored = summary.dropna(subset=["mean_score"])
    return go.Choropleth(
        locations=scored["iso3"],
        locationmode="ISO-3",
        z=scored["mean_score"],
        zmin=0,
        zmax=100,
        colorscale="Viridis",
        marker_line_color="white",
        marker_line_width=0.5,
        colorbar={"title": {"text": "mean score"}},
        customdata=np.column_stack([scored["country"], scored["n_candidates"]]),
        hovertemplate=(
            "<b>%{customdata[0]}</b><br>candidates: %{customdata[1]}"
            "<br>mean screening score: %{z:.1f}<extra></extra>"
        ),
        name="mean score",
        visible=False,
    )


def choropleth_figure(summary: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """A world map of `country_summary`: colour = candidates (log scale); hover shows the
    country, its candidate count and mean screening score. When there are scores, buttons
    switch the colour to the mean score."""
    title = title or "Where candidates are"
    fig = go.Figure()
    has_scores = bool(summary["mean_score"].notna().any()) if len(summary) else False
    if len(summary):
        fig.add_trace(_count_trace(summary))
    if has_scores:
        fig.add_trace(_score_trace(summary))
        fig.update_layout(
            updatemenus=[
                {
                    "type": "buttons",
                    "direction": "right",
                    "x": 0.0,
                    "y": 1.02,
                    "xanchor": "left",
                    "yanchor": "bottom",
                    "buttons": [
                        {"label": "colour: candidates", "method": "update",
                         "args": [{"visible": [True, False]}]},
                        {"label": "colour: mean score", "method": "update",
                         "args": [{"visible": [False, True]}]},
                    ],
                }
            ]
        )  # fmt: skip
    notes = [] if has_scores else ["no screening scores in this data"]
    if not len(summary):
        notes = ["no location could be resolved to a country"]
    subtitle = f"<br><sup>{'; '.join(notes)}</sup>" if notes else ""
    fig.update_layout(
        title={"text": f"{title}{subtitle}", "x": 0.5, "y": 0.97},
        margin={"l": 10, "r": 10, "t": 90, "b": 10},
        geo={
            "projection_type": "natural earth",
            "showframe": False,
            "showcountries": True,
            "countrycolor": "#9a9a9a",
            "showcoastlines": True,
            "coastlinecolor": "#9a9a9a",
            "showland": True,
            "landcolor": "#f2f2f2",
        },
    )
    return fig
