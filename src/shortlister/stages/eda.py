"""Stage: the EDA report of each candidate pool (python -m shortlister.stages.eda).

For "default" (the cleaned pipeline table) and every file named in ``eda.datasets``:

    reports/figures/eda/<dataset>/wordcloud.png
    reports/figures/eda/<dataset>/score_boxplot.png   (not when the data has no scores)
    reports/figures/eda/<dataset>/choropleth.html
    reports/figures/eda/<dataset>/choropleth.png      (not when kaleido cannot render it)
    reports/eda/<dataset>_locations.csv
    reports/eda.json                                   (counts, and why anything was skipped)

A dataset whose file is absent (a user's clone has no ../shared) is skipped with a reason,
not an error.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from shortlister.core.errors import DataError
from shortlister.data import schema
from shortlister.data.clean import CleanConfig, clean_candidates
from shortlister.data.loader import load_candidates
from shortlister.data.locations.report import distinct_locations, location_report
from shortlister.data.locations.resolve import resolve_locations
from shortlister.eda.config import EdaConfig
from shortlister.eda.countries import country_summary
from shortlister.eda.maps import choropleth_figure
from shortlister.eda.save import save_figure, save_plotly
from shortlister.eda.scores import score_boxplot_figure
from shortlister.eda.titles import default_stopwords, title_word_frequencies, wordcloud_figure
from shortlister.stages.common import start, tracked, write_json
from shortlister.stages.tracking import log_artifact, log_metrics

logger = logging.getLogger(__name__)

DEFAULT_DATASET = "default"
FIGURES = ("wordcloud.png", "score_boxplot.png", "choropleth.html", "choropleth.png")
# Numeric summaries that also go to MLflow as <dataset>/<name>.
METRIC_KEYS = (
    "n_candidates",
    "n_distinct_titles",
    "n_distinct_locations",
    "share_locations_resolved",
    "n_unresolved",
    "n_unresolved_distinct",
    "n_countries",
    "n_missing_scores",
)


def load_default(params: dict[str, Any]) -> pd.DataFrame:
    path = Path(params["paths"]["interim"]) / "candidates.parquet"
    if not path.exists():
        raise DataError("not found; run the clean stage first (dvc repro clean)", path=path)
    return pd.read_parquet(path)


def load_external(path: Path, params: dict[str, Any]) -> pd.DataFrame:
    """A client's file, loaded and cleaned exactly as the pipeline cleans its own."""
    clean_cfg = CleanConfig.from_config(params.get("data", {}).get("clean", {}))
    return clean_candidates(load_candidates(path), clean_cfg).clean


def report_dataset(
    df: pd.DataFrame, figures_dir: Path, locations_csv: Path, cfg: EdaConfig
) -> dict[str, Any]:
    """Write one dataset's figures and location table; return its eda.json entry."""
    figures_dir.mkdir(parents=True, exist_ok=True)
    for name in FIGURES:  # a figure skipped this time must not survive from a past run
        (figures_dir / name).unlink(missing_ok=True)
    resolved = resolve_locations(df[schema.LOCATION])
    df = df.assign(country_name=resolved["country_name"], iso3=resolved["iso3"])
    report = location_report(resolved)
    locations_csv.parent.mkdir(parents=True, exist_ok=True)
    distinct_locations(resolved).to_csv(locations_csv, index=False)

    outputs: dict[str, str] = {"locations_csv": str(locations_csv)}
    freqs = title_word_frequencies(df[schema.TITLE], default_stopwords(cfg.stopwords_extra))
    wordcloud = wordcloud_figure(freqs, max_words=cfg.max_words)
    outputs["wordcloud"] = str(save_figure(wordcloud, figures_dir / "wordcloud.png"))
    scores = df.get(schema.SCREENING_SCORE, pd.Series(dtype="float64"))
    if scores.notna().any():
        boxplot = score_boxplot_figure(df, cfg.top_n_locations)
        outputs["score_boxplot"] = str(save_figure(boxplot, figures_dir / "score_boxplot.png"))
    else:
        outputs["score_boxplot"] = "skipped: the data has no screening_score values"
    summary = country_summary(df)
    saved = save_plotly(
        choropleth_figure(summary),
        figures_dir / "choropleth.html",
        figures_dir / "choropleth.png",
        topojson=cfg.topojson,
    )
    outputs["choropleth_html"], outputs["choropleth_png"] = saved["html"], saved["png"]
    return {
        "n_candidates": len(df),
        "n_distinct_titles": int(df[schema.TITLE].nunique()),
        "n_distinct_locations": int(resolved["location"].nunique()),
        "share_locations_resolved": round(report.share_resolved, 4),
        "n_unresolved": report.n_unresolved,
        "n_unresolved_distinct": report.n_unresolved_distinct,
        "unresolved_locations": report.unresolved,
        "n_countries": len(summary),
        "n_missing_scores": int(len(df) - scores.notna().sum()),
        "outputs": outputs,
        "skipped": {k: v for k, v in outputs.items() if v.startswith("skipped:")},
    }


def run(params: dict[str, Any]) -> dict[str, float]:
    cfg = EdaConfig.from_config(params["eda"])
    reports = Path(params["paths"]["reports"])
    sources: dict[str, Path | None] = {DEFAULT_DATASET: None}
    sources.update({name: Path(path) for name, path in cfg.datasets.items()})
    summary: dict[str, Any] = {}
    for name, path in sources.items():
        if path is not None and not path.exists():
            logger.warning("eda: dataset '%s' skipped: %s not found", name, path)
            summary[name] = {"skipped": f"{path} not found"}
            continue
        df = load_default(params) if path is None else load_external(path, params)
        summary[name] = report_dataset(
            df, reports / "figures" / "eda" / name, reports / "eda" / f"{name}_locations.csv", cfg
        )
        logger.info(
            "eda %s: %d candidates, %.1f%% of locations resolved, map PNG: %s",
            name,
            summary[name]["n_candidates"],
            100 * summary[name]["share_locations_resolved"],
            summary[name]["outputs"]["choropleth_png"],
        )
    write_json(reports / "eda.json", summary)
    return {
        f"{name}/{key}": float(entry[key])
        for name, entry in summary.items()
        for key in METRIC_KEYS
        if key in entry
    }


def main() -> None:
    params = start()
    with tracked("eda", params, params["eda"]):
        log_metrics(run(params))
        reports = Path(params["paths"]["reports"])
        log_artifact(reports / "eda.json")
        log_artifact(reports / "eda", "eda")
        log_artifact(reports / "figures" / "eda", "eda/figures")


if __name__ == "__main__":
    main()
