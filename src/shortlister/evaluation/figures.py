"""The comparison figure: every method's test-split quality, one facet per benchmark.

Horizontal bars with the method names on the y axis, best first by the headline metric,
the value at each bar's end; a method whose encoder trained on that benchmark's titles
(``seen`` in the comparison table) is hatched and named "(seen)". The evaluate stage
writes it for every method (reports/figures/comparison.png); `comparison_png` draws it
for any subset, e.g. the methods a service serves.

Built without pyplot: no global figure registry or backend, so a threaded service can
draw it too. matplotlib is imported on first use, not when this module is.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from shortlister.core.outputs import write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# MAP is the figure's sort key and first panel: it weighs every relevant candidate,
# where NDCG@10 sees only the top ten.
HEADLINE_METRIC = "map"
SEEN_SUFFIX = " (seen)"
COLOURS = {"unseen": "#4c72b0", "seen": "#dd8452"}
# Inches: a row per method keeps 9 pt names apart; the rest is title and axis. A 9 pt
# character is about 0.075 in wide; the narrowest figure still fits its titles and legend.
ROW_HEIGHT, FACET_PAD, PANEL_WIDTH, CHAR_WIDTH, MIN_WIDTH = 0.3, 0.9, 3.2, 0.075, 6.4


def metric_label(metric: str) -> str:
    """How a metric is named on the figure: ``map`` -> ``MAP``, ``ndcg@10`` -> ``NDCG@10``."""
    return metric.upper()


def load_comparison_table(path: str | Path) -> pd.DataFrame:
    """The evaluate stage's reports/plots/comparison.csv, ``seen`` as ``"yes"`` or ``""``."""
    table = pd.read_csv(path)
    if "seen" in table:
        table["seen"] = table["seen"].fillna("").astype(str)
    return table


def _is_seen(table: pd.DataFrame) -> pd.Series:
    if "seen" not in table:
        return pd.Series(False, index=table.index)
    return table["seen"].map(lambda v: v is True or str(v).strip().lower() in ("yes", "true"))


def _check(table: pd.DataFrame, metrics: Sequence[str]) -> None:
    if not metrics:
        raise ValueError("comparison figure: expected at least one metric, got none")
    missing = [c for c in ("dataset", "method", *metrics) if c not in table.columns]
    if missing:
        raise ValueError(
            f"comparison figure: the table has no column(s) {missing}; expected 'dataset', "
            f"'method' and the metrics, got {list(table.columns)}"
        )


def facet_rows(
    table: pd.DataFrame, dataset: str, metrics: Sequence[str], methods: Sequence[str] | None
) -> pd.DataFrame:
    """One benchmark's rows, best first by ``metrics[0]`` (ties by name); rows without it
    are left out."""
    rows = table[table["dataset"] == dataset]
    if methods is not None:
        rows = rows[rows["method"].isin(methods)]
    rows = rows.dropna(subset=[metrics[0]]).assign(seen=_is_seen(rows))
    return rows.sort_values([metrics[0], "method"], ascending=[False, True], kind="stable")


def _bar_panel(ax: Any, rows: pd.DataFrame, metric: str, xmax: float, names: bool) -> None:
    """Horizontal bars of `metric`, the first row on top, each labelled at its end."""
    positions = range(len(rows))[::-1]  # barh draws upwards; the best goes on top
    values = rows[metric].astype(float)
    bars = ax.barh(
        list(positions),
        values.fillna(0.0),
        height=0.7,
        color=[COLOURS["seen" if s else "unseen"] for s in rows["seen"]],
        hatch=["//" if s else "" for s in rows["seen"]],
        edgecolor="white",
        linewidth=0.5,
    )
    texts = ["n/a" if pd.isna(v) else f"{v:.3f}" for v in values]
    ax.bar_label(bars, labels=texts, padding=3, fontsize=8)
    ax.set_yticks(list(positions))
    ax.set_yticklabels(method_labels(rows) if names else [], fontsize=9)
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    # Room past the longest bar for its label.
    ax.set_xlim(0, xmax * 1.22 if xmax > 0 else 1.0)
    ax.set_xlabel(metric_label(metric), fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def method_labels(rows: pd.DataFrame) -> list[str]:
    """The y axis: "sbert-tuned (seen)"; a method scored on fewer queries than the rest
    (the `llm` stage re-ranks a sample) says how many: "llm (n=40)"."""
    n = rows["n_queries"] if "n_queries" in rows else pd.Series(float("nan"), index=rows.index)
    labels = []
    for method, seen, count in zip(rows["method"], rows["seen"], n, strict=True):
        fewer = f" (n={int(count)})" if pd.notna(count) and count < n.max() else ""
        labels.append(f"{method}{fewer}{SEEN_SUFFIX if seen else ''}")
    return labels


def _facet_title(dataset: str, rows: pd.DataFrame) -> str:
    n = rows["n_queries"].dropna() if "n_queries" in rows else pd.Series(dtype=float)
    queries = f", {int(n.max())} test queries" if len(n) else ", test queries"
    seen = " (seen benchmark)" if rows["seen"].any() else ""
    return f"{dataset}{seen}{queries}"


def _seen_legend(fig: Figure) -> None:
    """What the hatching means, under the panels."""
    from matplotlib.patches import Patch

    handles = [
        Patch(facecolor=COLOURS["unseen"], label="unseen: no training on its titles"),
        Patch(
            facecolor=COLOURS["seen"],
            hatch="//",
            edgecolor="white",
            label="(seen): its encoder trained on this benchmark's titles (in-domain)",
        ),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=1, fontsize=8, frameon=False)


def comparison_figure(
    table: pd.DataFrame,
    metrics: Sequence[str] = (HEADLINE_METRIC,),
    methods: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
) -> Figure:
    """A row of panels per benchmark, a panel per metric, methods sorted by ``metrics[0]``.

    table: one row per (dataset, method) with a column per metric and optionally ``seen``
    (``"yes"``/True) and ``n_queries``; the evaluate stage's comparison table. methods:
    only these (all when None); datasets: these, in this order (all, in the table's order,
    when None).
    A metric's panels share one x scale, so benchmarks compare at a glance.
    """
    from matplotlib.figure import Figure

    metrics = list(metrics)
    _check(table, metrics)
    names = list(table["dataset"].unique()) if datasets is None else list(datasets)
    facets = [(d, facet_rows(table, d, metrics, methods)) for d in names]
    facets = [(d, rows) for d, rows in facets if len(rows)]
    if not facets:
        raise ValueError(
            f"comparison figure: no rows to draw for methods {methods} on datasets {names}; "
            f"the table has methods {sorted(table['method'].unique())}"
        )
    heights = [ROW_HEIGHT * len(rows) + FACET_PAD for _, rows in facets]
    longest = max(len(label) for _, rows in facets for label in method_labels(rows))
    width = max(MIN_WIDTH, CHAR_WIDTH * longest + 0.4 + PANEL_WIDTH * len(metrics))
    fig = Figure(figsize=(width, sum(heights) + 0.9), layout="constrained")
    axes = fig.subplots(len(facets), len(metrics), squeeze=False, height_ratios=heights)
    highest = {m: pd.concat([rows[m] for _, rows in facets]).max() for m in metrics}
    xmax = {m: 0.0 if pd.isna(v) else float(v) for m, v in highest.items()}
    for row_axes, (dataset, rows) in zip(axes, facets, strict=True):
        for j, (ax, metric) in enumerate(zip(row_axes, metrics, strict=True)):
            _bar_panel(ax, rows, metric, xmax[metric], names=j == 0)
        row_axes[0].set_title(_facet_title(dataset, rows), loc="left", fontsize=10)
    if any(rows["seen"].any() for _, rows in facets):
        _seen_legend(fig)
    shown = [metric_label(m) for m in metrics]
    what = " and ".join(shown) if len(shown) < 3 else ", ".join(shown)
    fig.suptitle(f"Test queries: {what}, best first by {shown[0]}", fontsize=11)
    return fig


def figure_png(fig: Figure, *, dpi: int = 110) -> bytes:
    """`fig` as PNG bytes on a white background."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def comparison_png(
    table: pd.DataFrame,
    methods: Sequence[str] | None = None,
    metrics: Sequence[str] = (HEADLINE_METRIC,),
    *,
    dpi: int = 110,
) -> bytes:
    """The comparison figure of `methods` (all when None) as PNG bytes, e.g. for a page."""
    return figure_png(comparison_figure(table, metrics, methods), dpi=dpi)


def save_comparison(
    table: pd.DataFrame,
    path: str | Path,
    metrics: Sequence[str] = (HEADLINE_METRIC,),
    methods: Sequence[str] | None = None,
) -> Path:
    """Write the comparison figure as a PNG at `path` (atomically)."""
    return write_bytes(path, comparison_png(table, methods, metrics), label="comparison figure")
