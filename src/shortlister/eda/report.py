"""Exploratory figures of a candidate pool: what a recruiter sees before any ranking.

Pure functions shared by the ``eda`` stage and ``notebooks/eda.ipynb``: word frequencies
of titles and their word cloud, screening scores by country and location, and a world map
of where candidates are. Only `save_plotly` and `save_figure` touch the disk.
"""

from __future__ import annotations

import json
import logging
import math
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

# Figures are built without pyplot: no global figure registry to leak into, no backend to
# choose, and a notebook still shows them inline.
from matplotlib.figure import Figure

from shortlister.core.errors import ConfigError, DataError
from shortlister.data import schema
from shortlister.data.locations import resolve_locations

logger = logging.getLogger(__name__)

UNRESOLVED_LABEL = "(unresolved)"
WORDCLOUD_SEED = 13  # fixed so the same titles always give the same picture
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_DATASET_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


PACKAGED_TOPOJSON = "package"


def packaged_topojson() -> str:
    """Path of the world outlines shipped in the package (see eda/data/NOTICE.md)."""
    return str(Path(__file__).resolve().parent / "data" / "world_110m.json")


@dataclass
class EdaConfig:
    """Knobs of the EDA report (``eda:`` in params.yaml); validated on construction."""

    # Extra candidate files to report on, by name; "default" (the pipeline's own cleaned
    # table) is always reported and so cannot be used as a name here.
    datasets: dict[str, str] = field(default_factory=dict)
    top_n_locations: int = 12
    stopwords_extra: list[str] = field(default_factory=list)
    max_words: int = 100
    # "package": the copy of plotly's world_110m.json shipped with shortlister (offline).
    # Or a local copy, or an http(s) folder holding it; None: plotly's CDN (needs network).
    topojson: str | None = PACKAGED_TOPOJSON

    def __post_init__(self) -> None:
        if not isinstance(self.datasets, Mapping):
            raise ConfigError(f"eda.datasets must map a name to a file path, got {self.datasets!r}")
        for name, path in self.datasets.items():
            if not (isinstance(name, str) and _DATASET_NAME.match(name)) or name == "default":
                raise ConfigError(
                    f"eda.datasets name {name!r} must be letters, digits or '_.-' and not "
                    "'default' (the pipeline's own table is always reported)"
                )
            if not (isinstance(path, str) and path.strip()):
                raise ConfigError(f"eda.datasets.{name} must be a file path, got {path!r}")
        for name in ("top_n_locations", "max_words"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"eda.{name} must be an integer >= 1, got {value!r}")
        words = self.stopwords_extra
        if isinstance(words, str) or not all(isinstance(w, str) for w in words):
            raise ConfigError(f"eda.stopwords_extra must be a list of words, got {words!r}")
        if self.topojson is not None and not (
            isinstance(self.topojson, str) and self.topojson.strip()
        ):
            raise ConfigError(f"eda.topojson must be a path, a URL or null, got {self.topojson!r}")
        if self.topojson == PACKAGED_TOPOJSON:
            self.topojson = packaged_topojson()


# ---------------------------------------------------------------------------- titles


def default_stopwords(extra: Iterable[str] = ()) -> frozenset[str]:
    """wordcloud's English stop words plus `extra`, lower-cased."""
    from wordcloud import STOPWORDS

    return frozenset(w.casefold() for w in (*STOPWORDS, *extra))


def title_word_frequencies(titles: Iterable[object], stopwords: Iterable[str] = ()) -> Counter[str]:
    """How often each lower-cased word occurs across `titles`, stop words left out.

    Words are runs of letters (inner ``'`` and ``-`` kept: "e-commerce"); numbers,
    punctuation, single letters and missing titles are ignored.
    """
    stop = {w.casefold() for w in stopwords}
    counts: Counter[str] = Counter()
    for title in titles:
        if not isinstance(title, str):
            continue
        counts.update(w for w in _WORD.findall(title.casefold()) if len(w) > 1 and w not in stop)
    return counts


def wordcloud_figure(
    freqs: Mapping[str, int], *, max_words: int = 100, title: str | None = None
) -> Figure:
    """A word cloud of `freqs` (bigger = more frequent); the same input gives the same image."""
    from wordcloud import WordCloud

    fig = Figure(figsize=(12, 6.4), layout="constrained")
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_title(title or f"Most frequent words in candidate titles (top {max_words})")
    if not freqs:
        ax.text(0.5, 0.5, "no title words to show", ha="center", va="center", fontsize=16)
        return fig
    cloud = WordCloud(
        width=1600,
        height=800,
        background_color="white",
        colormap="viridis",
        max_words=max_words,
        random_state=WORDCLOUD_SEED,
        collocations=False,
    ).generate_from_frequencies(dict(freqs))
    ax.imshow(cloud.to_array(), interpolation="bilinear")
    return fig


# ---------------------------------------------------------------------------- scores


def _with_countries(df: pd.DataFrame) -> pd.DataFrame:
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


def _box_panel(ax: Any, groups: pd.Series, scores: pd.Series, top_n: int, what: str) -> None:
    """Horizontal boxes of `scores` for the `top_n` most frequent values of `groups`."""
    scored = pd.DataFrame({"group": groups, "score": scores}).dropna(subset=["score"])
    counts = scored["group"].value_counts()
    top = sorted(counts.index[:top_n], key=lambda g: (-counts[g], str(g)))[::-1]
    data = [scored.loc[scored["group"] == g, "score"].to_numpy() for g in top]
    labels = [f"{g} (n={counts[g]:,})" for g in top]
    ax.boxplot(data, orientation="horizontal", tick_labels=labels, showmeans=True)
    ax.set_xlim(0, 100)
    ax.set_xlabel("screening score (0-100)")
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
    df = _with_countries(df)
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


# ---------------------------------------------------------------------------- map


def country_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Candidates per resolved country: iso3, country, n_candidates, n_scored, mean_score.

    Locations are resolved when `df` has no iso3 column. Unresolved rows are not counted
    here (`shortlister.data.locations.location_report` lists them). mean_score is NaN for
    a country without scores. Most candidates first.
    """
    df = _with_countries(df)
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


# ---------------------------------------------------------------------------- output


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 110) -> Path:
    """Write a matplotlib figure as PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    return path


def _topojson_name(fig: go.Figure) -> str:
    # plotly.js names its outline files <scope>_<resolution>m, e.g. world_110m.
    scope = (fig.layout.geo.scope or "world").replace(" ", "-")
    return f"{scope}_{int(fig.layout.geo.resolution or 110)}m"


def _geo_assets_js(topojson: str | Path, name: str) -> str:
    """A script that hands plotly.js the outlines in `topojson`, so it fetches nothing."""
    path = Path(topojson)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"eda.topojson: cannot read {path} as JSON ({exc})") from exc
    if not (isinstance(data, dict) and "countries" in data.get("objects", {})):
        raise ConfigError(
            f"eda.topojson: {path} is not a plotly world topojson; expected a Topology with "
            "a 'countries' object (plotly's world_110m.json)"
        )
    return (
        "window.PlotlyGeoAssets = window.PlotlyGeoAssets || {topojson: {}};\n"
        f"window.PlotlyGeoAssets.topojson[{json.dumps(name)}] = {json.dumps(data)};\n"
    )


def _write_html(fig: go.Figure, path: Path, topojson: str | None) -> None:
    if topojson is None or _is_url(topojson):
        config = {"topojsonURL": topojson} if topojson else None
        fig.write_html(path, include_plotlyjs=True, full_html=True, config=config)
        return
    from plotly.offline import get_plotlyjs

    # Outlines inlined after plotly.js and before the plot: the page needs no network.
    page = (
        '<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8" /></head>\n<body>\n'
        f"<script>{get_plotlyjs()}</script>\n"
        f"<script>{_geo_assets_js(topojson, _topojson_name(fig))}</script>\n"
        f"{fig.to_html(include_plotlyjs=False, full_html=False)}\n</body>\n</html>\n"
    )
    path.write_text(page, encoding="utf-8")


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _quiet_kaleido() -> None:
    # kaleido and its browser driver log every tab and temp folder at INFO, which buries
    # the stage's own lines; an explicit level set by the user is left alone.
    for name in ("kaleido", "choreographer", "logistro"):
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.WARNING)


def _write_png(fig: go.Figure, path: Path, topojson: str | None, opts: dict[str, Any]) -> None:
    import kaleido

    _quiet_kaleido()
    with tempfile.TemporaryDirectory(prefix="shortlister-kaleido-") as tmp:
        others = None
        if topojson is not None and not _is_url(topojson):
            script = Path(tmp) / "geo_assets.js"
            script.write_text(_geo_assets_js(topojson, _topojson_name(fig)), encoding="utf-8")
            others = [script.as_uri()]
        # No MathJax: the figures have no LaTeX, and its default comes from a CDN.
        page = kaleido.PageGenerator(mathjax=False, others=others)
        png = kaleido.calc_fig_sync(
            fig,
            opts={"format": "png", **opts},
            topojson=topojson if topojson is not None and _is_url(topojson) else None,
            kopts={"page_generator": page, "timeout": 90},
        )
    path.write_bytes(png)


def _explain(exc: Exception) -> tuple[str, str]:
    """(why the PNG failed, how to fix it) for a kaleido exception."""
    message = " ".join(str(exc).split())[:300] or type(exc).__name__
    if type(exc).__name__ in ("ChromeNotFoundError", "BrowserFailedError", "BrowserDepsError"):
        return (
            f"kaleido found no working Chrome/Chromium ({type(exc).__name__}: {message})",
            "install one (`apt-get install chromium`, or `plotly_get_chrome`) or point "
            "BROWSER_PATH at it",
        )
    if "topojson" in message:
        return (
            f"the map outlines could not be fetched ({message})",
            "plotly loads them from its CDN; run with network access or set eda.topojson "
            "to a local copy of plotly's world_110m.json",
        )
    return (
        f"{type(exc).__name__}: {message}",
        "check that kaleido can start Chrome/Chromium (`plotly_get_chrome` installs one)",
    )


def save_plotly(
    fig: go.Figure,
    html_path: str | Path,
    png_path: str | Path,
    *,
    topojson: str | None = None,
    width: int = 1100,
    height: int = 620,
    scale: float = 2.0,
) -> dict[str, str]:
    """Write `fig` as an HTML page with plotly.js inlined and, via kaleido, a PNG.

    A map's country outlines are not part of plotly.js: without `topojson` (see
    `EdaConfig.topojson`) the page and kaleido load them from plotly's CDN; with a local
    file they are inlined too, and both render offline.

    Returns ``{"html": path, "png": path}``. When kaleido fails (no browser, no network
    for the map outlines, ...) the PNG is skipped, not fatal: ``"png"`` is
    ``"skipped: <why>"``, a warning says how to fix it, and a stale PNG from an earlier
    run is removed.
    """
    html_path, png_path = Path(html_path), Path(png_path)
    for path in (html_path, png_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    _write_html(fig, html_path, topojson)
    result = {"html": str(html_path)}
    try:
        _write_png(fig, png_path, topojson, {"width": width, "height": height, "scale": scale})
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - a missing PNG must never fail the report
        reason, fix = _explain(exc)
        logger.warning(
            "%s not written (%s is): %s. To fix: %s", png_path, html_path.name, reason, fix
        )
        png_path.unlink(missing_ok=True)
        result["png"] = f"skipped: {reason}"
    else:
        result["png"] = str(png_path)
    return result
