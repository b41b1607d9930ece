from __future__ import annotations

import io
import json
import logging
import os

import numpy as np
import pandas as pd
import pytest
import yaml

from shortlister.core.errors import ConfigError, DataError
from shortlister.core.params import load_params
from shortlister.data.clean import clean_candidates
from shortlister.data.default.build import generate_default_dataset
from shortlister.data.default.config import GenerateConfig
from shortlister.eda import save
from shortlister.eda.config import EdaConfig, packaged_topojson
from shortlister.eda.countries import country_summary
from shortlister.eda.maps import choropleth_figure
from shortlister.eda.save import save_plotly
from shortlister.eda.scores import score_boxplot_figure
from shortlister.eda.titles import default_stopwords, title_word_frequencies, wordcloud_figure
from shortlister.stages.eda import run


def _has_browser() -> bool:
    """Whether kaleido will find Chrome/Chromium, asked the way kaleido itself looks."""
    from choreographer.browsers.chromium import Chromium

    path = Chromium.find_browser(skip_local=False)
    return path is not None and os.path.exists(path)


HAS_BROWSER = _has_browser()


@pytest.fixture()
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "title": ["HR Manager", "Recruiter", "Recruiter", "Nurse", "Teacher", "Clerk"],
            "location": ["Houston, Texas", "Kanada", "Kanada", "Remote", "İzmir, Türkiye", ""],
            "screening_score": [80.0, 60.0, np.nan, 50.0, 40.0, 30.0],
        }
    )


@pytest.fixture(scope="session")
def topojson(tmp_path_factory) -> str:
    """A tiny stand-in for plotly's world_110m.json: boxes for a few countries.

    Rings run clockwise, which is what d3 (and so plotly.js) expects of an outer ring.
    """
    boxes = {"USA": (-125, 25, -67, 49), "CAN": (-140, 50, -55, 70), "TUR": (26, 36, 45, 42)}
    arcs, geometries = [], []
    for iso3, (x0, y0, x1, y1) in boxes.items():
        arcs.append([[x0, y0], [x0, y1], [x1, y1], [x1, y0], [x0, y0]])
        geometries.append({"type": "Polygon", "id": iso3, "arcs": [[len(arcs) - 1]]})
    empty = {"type": "GeometryCollection", "geometries": []}
    objects = {name: empty for name in ("land", "coastlines", "ocean", "lakes", "rivers")}
    objects["subunits"] = empty
    objects["countries"] = {"type": "GeometryCollection", "geometries": geometries}
    path = tmp_path_factory.mktemp("geo") / "world_110m.json"
    path.write_text(json.dumps({"type": "Topology", "arcs": arcs, "objects": objects}))
    return str(path)


# ---------------------------------------------------------------------------- config


def test_committed_config_is_valid(root):
    cfg = EdaConfig(**yaml.safe_load((root / "conf" / "eda" / "default.yaml").read_text()))
    assert "potential_talents" in cfg.datasets
    assert cfg.topojson == packaged_topojson()  # offline outlines by default


@pytest.mark.parametrize(
    "bad",
    [
        {"datasets": {"default": "x.csv"}},
        {"datasets": {"a b": "x.csv"}},
        {"datasets": {"x": ""}},
        {"top_n_locations": 0},
        {"max_words": True},
        {"stopwords_extra": "at"},
        {"topojson": ""},
    ],
)
def test_config_rejects_bad_values(bad):
    with pytest.raises(ConfigError):
        EdaConfig(**bad)


def test_config_from_config_refuses_unknown_keys():
    assert EdaConfig.from_config(None) == EdaConfig()
    with pytest.raises(ConfigError, match=r"eda: unknown keys \['max_word'\]"):
        EdaConfig.from_config({"max_word": 10})


# ---------------------------------------------------------------------------- titles


def test_word_frequencies_lowercase_and_drop_stopwords():
    freqs = title_word_frequencies(
        ["Senior HR Manager at Acme | Team player", "senior recruiter", None, "3D Artist"],
        default_stopwords(["at", "|"]),
    )
    assert freqs["senior"] == 2
    assert freqs["hr"] == 1
    assert "at" not in freqs and "|" not in freqs
    assert "3d" not in freqs and "d" not in freqs  # numbers and single letters dropped
    assert freqs["artist"] == 1


def test_wordcloud_is_deterministic():
    freqs = {"recruiter": 9, "human": 7, "resources": 7, "manager": 3, "aspiring": 2}

    def render() -> bytes:
        buffer = io.BytesIO()
        wordcloud_figure(freqs, max_words=5).savefig(buffer, format="png")
        return buffer.getvalue()

    assert render() == render()


def test_wordcloud_of_nothing_still_draws():
    fig = wordcloud_figure({})
    assert "no title words" in fig.axes[0].texts[0].get_text()


# ---------------------------------------------------------------------------- scores and map


def test_boxplot_title_explains_missing_scores(frame):
    fig = score_boxplot_figure(frame, top_n_locations=3)
    assert "1 of 6 candidates have no screening score" in fig.get_suptitle()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == 3 and any(label.startswith("Canada (n=1)") for label in labels)


def test_boxplot_needs_scores(frame):
    with pytest.raises(DataError, match="no screening scores"):
        score_boxplot_figure(frame.assign(screening_score=np.nan))


def test_country_summary_counts_resolved_rows_only(frame):
    summary = country_summary(frame)
    assert summary.columns.tolist() == ["iso3", "country", "n_candidates", "n_scored", "mean_score"]
    rows = summary.set_index("iso3")
    assert rows.loc["CAN", "n_candidates"] == 2 and rows.loc["CAN", "mean_score"] == 60.0
    assert set(rows.index) == {"USA", "CAN", "TUR"}  # "Remote" and "" are not countries


def test_choropleth_uses_iso3_and_hover_shows_count_and_mean(frame):
    fig = choropleth_figure(country_summary(frame))
    count, score = fig.data
    assert set(count.locations) == {"USA", "CAN", "TUR"}
    assert count.locationmode == "ISO-3"
    assert "candidates" in count.hovertemplate and "mean screening score" in count.hovertemplate
    assert score.visible is False  # a button switches to it


def test_choropleth_without_scores_has_one_layer_and_says_so(frame):
    fig = choropleth_figure(country_summary(frame.drop(columns="screening_score")))
    assert len(fig.data) == 1
    assert "no screening scores" in fig.layout.title.text


# ---------------------------------------------------------------------------- saving


def test_save_plotly_skips_png_without_crashing(tmp_path, frame, monkeypatch, caplog):
    import kaleido
    from kaleido.errors import ChromeNotFoundError

    def no_browser(*args, **kwargs):
        raise ChromeNotFoundError("no chrome")

    monkeypatch.setattr(kaleido, "calc_fig_sync", no_browser)
    (tmp_path / "map.png").write_bytes(b"stale")
    with caplog.at_level(logging.WARNING, logger="shortlister.eda.save"):
        result = save_plotly(
            choropleth_figure(country_summary(frame)), tmp_path / "map.html", tmp_path / "map.png"
        )
    assert result["png"].startswith("skipped: kaleido found no working Chrome")
    assert "apt-get install chromium" in caplog.text
    assert not (tmp_path / "map.png").exists()  # no stale image passes for a new one
    html = (tmp_path / "map.html").read_text()
    assert "USA" in html and "CAN" in html
    assert '<script src="https://cdn.plot.ly' not in html  # plotly.js is inlined


def test_save_plotly_with_local_outlines(tmp_path, frame, topojson):
    result = save_plotly(
        choropleth_figure(country_summary(frame)),
        tmp_path / "map.html",
        tmp_path / "map.png",
        topojson=topojson,
    )
    assert "PlotlyGeoAssets" in (tmp_path / "map.html").read_text()
    if HAS_BROWSER:
        assert result["png"] == str(tmp_path / "map.png")
        assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert result["png"].startswith("skipped: ") and len(result["png"]) > 20


def test_bad_topojson_is_a_config_error(tmp_path, frame):
    bad = tmp_path / "world_110m.json"
    bad.write_text('{"type": "Topology", "objects": {}}')
    with pytest.raises(ConfigError, match="not a plotly world topojson"):
        save_plotly(
            choropleth_figure(country_summary(frame)),
            tmp_path / "m.html",
            tmp_path / "m.png",
            topojson=str(bad),
        )


# ---------------------------------------------------------------------------- the stage


@pytest.fixture(scope="session")
def interim(tmp_path_factory):
    """What the clean stage leaves in data/interim, with unresolvable locations planted."""
    interim = tmp_path_factory.mktemp("interim")
    raw = generate_default_dataset(GenerateConfig(n_candidates=1500)).candidates
    raw.loc[:2, "location"] = ["Remote", "Earth", ""]  # must be reported, not dropped
    clean_candidates(raw).clean.to_parquet(interim / "candidates.parquet", index=False)
    return interim


@pytest.fixture()
def stage_params(tmp_path, root, topojson, interim) -> dict:
    params = load_params(root / "params.yaml")
    params["paths"] = {**params["paths"], "interim": str(interim), "reports": str(tmp_path / "r")}
    params["eda"] = yaml.safe_load((root / "conf" / "eda" / "default.yaml").read_text())
    real = root.parent / "shared" / "data" / "potential_talents.csv"
    params["eda"]["datasets"] = {
        "potential_talents": str(real),
        "absent": str(tmp_path / "absent.csv"),
    }
    params["eda"]["topojson"] = topojson
    return params


def test_stage_writes_every_output(stage_params, tmp_path):
    metrics = run(stage_params)
    reports = tmp_path / "r"
    summary = json.loads((reports / "eda.json").read_text())
    assert summary["absent"] == {"skipped": f"{tmp_path / 'absent.csv'} not found"}
    # The client's file is reported only where ../shared exists.
    datasets = [n for n in ("default", "potential_talents") if "n_candidates" in summary[n]]
    assert datasets[0] == "default"
    for name in datasets:
        entry = summary[name]
        figures = reports / "figures" / "eda" / name
        assert (figures / "wordcloud.png").exists()
        assert (figures / "choropleth.html").exists()
        assert (reports / "eda" / f"{name}_locations.csv").exists()
        assert entry["n_candidates"] > 0 and entry["n_distinct_titles"] > 0
        assert 0.0 < entry["share_locations_resolved"] <= 1.0
        png = entry["outputs"]["choropleth_png"]
        if HAS_BROWSER:
            assert png == str(figures / "choropleth.png") and (figures / "choropleth.png").exists()
        else:
            assert png.startswith("skipped: ")
        assert metrics[f"{name}/n_candidates"] == entry["n_candidates"]

    default = summary["default"]
    assert default["n_unresolved_distinct"] == 3
    assert default["unresolved_locations"] == {"": 1, "Earth": 1, "Remote": 1}
    assert (reports / "figures" / "eda" / "default" / "score_boxplot.png").exists()
    html = (reports / "figures" / "eda" / "default" / "choropleth.html").read_text()
    assert all(code in html for code in ("USA", "CAN", "TUR", "GBR"))
    table = pd.read_csv(reports / "eda" / "default_locations.csv", keep_default_na=False)
    assert table["n_candidates"].sum() == default["n_candidates"]
    assert set(table.loc[table["iso3"] == "unresolved", "location"]) == {"", "Earth", "Remote"}

    if "potential_talents" in datasets:  # the client's file has no scores
        real = summary["potential_talents"]
        assert real["skipped"]["score_boxplot"].startswith("skipped: ")
        figures = reports / "figures" / "eda" / "potential_talents"
        assert not (figures / "score_boxplot.png").exists()
        assert real["share_locations_resolved"] >= 0.95


def test_stage_skips_client_file_when_absent(stage_params, tmp_path, monkeypatch):
    monkeypatch.setattr(save, "_write_png", _no_png)
    stage_params["eda"]["datasets"] = {"potential_talents": str(tmp_path / "nope.csv")}
    run(stage_params)
    summary = json.loads((tmp_path / "r" / "eda.json").read_text())
    assert summary["potential_talents"] == {"skipped": f"{tmp_path / 'nope.csv'} not found"}
    assert summary["default"]["outputs"]["choropleth_png"] == "skipped: RuntimeError: test"


def _no_png(*args, **kwargs):
    raise RuntimeError("test")
