from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from shortlister.evaluation.figures import (
    SEEN_SUFFIX,
    comparison_figure,
    comparison_png,
    facet_rows,
    load_comparison_table,
    save_comparison,
)
from shortlister.stages import evaluate
from shortlister.stages.evaluate import plot_comparison

METHODS = ["tfidf", "sbert", "sbert-tuned", "word2vec_mean", "ranknet"]


@pytest.fixture()
def table() -> pd.DataFrame:
    """Two benchmarks; on `bls_soc` the tuned encoder and its ranker are seen."""
    rng = np.random.default_rng(0)
    rows = []
    for dataset, n in (("default", 16), ("bls_soc", 200)):
        for method in METHODS:
            seen = dataset == "bls_soc" and method in ("sbert-tuned", "ranknet")
            rows.append(
                {
                    "dataset": dataset,
                    "method": method,
                    "map": round(float(rng.uniform(0.05, 0.7)), 4),
                    "ndcg@10": round(float(rng.uniform(0.1, 0.9)), 4),
                    "mrr": round(float(rng.uniform(0.3, 1.0)), 4),
                    "n_queries": float(n),
                    "seen": "yes" if seen else "",
                }
            )
    return pd.DataFrame(rows)


def _drawn(fig):
    FigureCanvasAgg(fig).draw()
    return fig


def _labels_top_down(ax) -> list[str]:
    ticks = sorted(zip(ax.get_yticks(), ax.get_yticklabels(), strict=True), key=lambda t: -t[0])
    return [label.get_text() for _, label in ticks]


def _facet(fig, dataset: str):
    """The axes row of one benchmark: its first panel's title starts with the name."""
    firsts = [ax for ax in fig.axes if ax.get_title(loc="left").startswith(dataset)]
    assert len(firsts) == 1, [ax.get_title(loc="left") for ax in fig.axes]
    return firsts[0]


def test_bars_are_horizontal_and_sorted_best_first_by_map(table):
    fig = _drawn(comparison_figure(table, ["map", "ndcg@10"]))
    assert len(fig.axes) == 4  # 2 benchmarks x 2 metrics
    for dataset in ("default", "bls_soc"):
        ax = _facet(fig, dataset)
        rows = table[table["dataset"] == dataset].sort_values("map", ascending=False)
        expected = [
            m + SEEN_SUFFIX if s == "yes" else m for m, s in rows[["method", "seen"]].values
        ]
        assert _labels_top_down(ax) == expected
        bars = sorted(ax.patches, key=lambda p: -p.get_y())
        # Horizontal: every bar starts at x = 0 and its width is the value.
        assert [b.get_x() for b in bars] == [0.0] * len(rows)
        assert [round(b.get_width(), 4) for b in bars] == rows["map"].tolist()
        assert all(b.get_height() < 1 for b in bars)
        # The value at each bar's end, in the same order.
        ends = sorted(ax.texts, key=lambda t: -t.xy[1])
        assert [t.get_text() for t in ends] == [f"{v:.3f}" for v in rows["map"]]
        assert [round(t.xy[0], 4) for t in ends] == rows["map"].tolist()


def test_seen_benchmarks_are_marked(table):
    fig = _drawn(comparison_figure(table, ["map", "ndcg@10"]))
    seen_ax, plain_ax = _facet(fig, "bls_soc"), _facet(fig, "default")
    assert "(seen benchmark)" in seen_ax.get_title(loc="left")
    assert "seen" not in plain_ax.get_title(loc="left")
    labels = _labels_top_down(seen_ax)
    assert sorted(s for s in labels if s.endswith(SEEN_SUFFIX)) == [
        "ranknet (seen)",
        "sbert-tuned (seen)",
    ]
    bars = sorted(seen_ax.patches, key=lambda p: -p.get_y())
    hatched = [label for label, bar in zip(labels, bars, strict=True) if bar.get_hatch()]
    assert hatched == [s for s in labels if s.endswith(SEEN_SUFFIX)]
    assert not any(bar.get_hatch() for bar in plain_ax.patches)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("(seen)" in t and "in-domain" in t for t in legend)


def test_no_seen_rows_means_no_legend(table):
    fig = comparison_figure(table.assign(seen=""), ["map"])
    assert fig.legends == []


def _visible_texts(fig):
    texts = [fig._suptitle, *[t for legend in fig.legends for t in legend.get_texts()]]
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax.xaxis.label, *ax.texts]
        low, high = ax.get_xlim()  # ticks past the limits are not drawn
        ticks = zip(ax.get_xticks(), ax.get_xticklabels(), strict=True)
        texts += [label for x, label in ticks if low <= x <= high] + ax.get_yticklabels()
    return [t for t in texts if t is not None and t.get_visible() and t.get_text()]


@pytest.mark.parametrize(
    ("metrics", "n_extra"),
    [(["map"], 0), (["map", "ndcg@10"], 0), (["map", "ndcg@10", "mrr"], 12)],
)
def test_no_two_texts_overlap_and_all_fit_the_figure(table, metrics, n_extra):
    extra = pd.DataFrame(
        {
            "dataset": "default",
            "method": [f"a-rather-long-method-name-{i}" for i in range(n_extra)],
            "map": np.linspace(0.01, 0.3, n_extra),
            "ndcg@10": 0.5,
            "mrr": 0.5,
            "seen": "",
        }
    )
    fig = _drawn(comparison_figure(pd.concat([table, extra], ignore_index=True), metrics))
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in _visible_texts(fig)]
    for text, box in boxes:
        assert page.x0 <= box.x0 and box.x1 <= page.x1, text
        assert page.y0 <= box.y0 and box.y1 <= page.y1, text
    overlapping = [
        (a, b)
        for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
        if box_a.overlaps(box_b)
    ]
    assert overlapping == []
    for ax in fig.axes:  # value labels stay inside their panel
        inside = ax.get_window_extent(renderer)
        for label in ax.texts:
            assert label.get_window_extent(renderer).x1 <= inside.x1, label.get_text()


def test_a_subset_of_methods_for_the_served_ones(table):
    fig = comparison_figure(table, ["map"], methods=["tfidf", "sbert-tuned"])
    labels = {label for ax in fig.axes for label in _labels_top_down(ax)}
    assert labels == {"tfidf", "sbert-tuned", "sbert-tuned (seen)"}
    png = comparison_png(table, ["tfidf", "sbert-tuned"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000


def test_a_method_scored_on_fewer_queries_says_how_many(table):
    llm = table[table["method"] == "sbert"].assign(method="llm", n_queries=[4.0, 40.0])
    fig = comparison_figure(pd.concat([table, llm], ignore_index=True), ["map"])
    assert "llm (n=40)" in _labels_top_down(_facet(fig, "bls_soc"))
    assert "llm (n=4)" in _labels_top_down(_facet(fig, "default"))
    assert _facet(fig, "bls_soc").get_title(loc="left").endswith("200 test queries")


def test_missing_values(table):
    table.loc[(table["dataset"] == "default") & (table["method"] == "sbert"), "map"] = np.nan
    table.loc[(table["dataset"] == "default") & (table["method"] == "tfidf"), "ndcg@10"] = np.nan
    rows = facet_rows(table, "default", ["map", "ndcg@10"], None)
    assert "sbert" not in set(rows["method"])  # no headline value: left out
    fig = _drawn(comparison_figure(table, ["map", "ndcg@10"], datasets=["default"]))
    assert "n/a" in [t.get_text() for t in fig.axes[1].texts]


def test_errors_name_what_was_expected(table):
    with pytest.raises(ValueError, match=r"no column\(s\) \['p@5'\]"):
        comparison_figure(table, ["map", "p@5"])
    with pytest.raises(ValueError, match="no rows to draw.*'tfidf'"):
        comparison_figure(table, ["map"], methods=["bm25"])
    with pytest.raises(ValueError, match="at least one metric"):
        comparison_figure(table, [])


def test_stage_plot_and_csv_round_trip(table, tmp_path, monkeypatch):
    csv = tmp_path / "comparison.csv"
    table.to_csv(csv, index=False)
    loaded = load_comparison_table(csv)
    assert loaded["seen"].tolist() == table["seen"].tolist()
    path = tmp_path / "figures" / "comparison.png"
    plot_comparison(loaded, ["ndcg@10", "map", "mrr"], path)
    assert path.read_bytes().startswith(b"\x89PNG")
    # The stage's figure: MAP (the sort key) first, then NDCG@10.
    calls = []
    monkeypatch.setattr(evaluate, "save_comparison", lambda *a: calls.append(a))
    plot_comparison(loaded, ["ndcg@10", "map", "mrr"], path)
    assert calls[0][2] == ["map", "ndcg@10"]
    written = save_comparison(loaded, tmp_path / "served.png", methods=["tfidf"])
    assert written.stat().st_size > 1000
