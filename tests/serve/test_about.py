"""GET /about/comparison.png: the page's about view draws the served methods' comparison."""

from __future__ import annotations

import pandas as pd
import pytest
from starlette.testclient import TestClient

from shortlister.serve.app import create_app
from shortlister.serve.state import build_state
from tests.serve.helpers import LOCAL_URL, tfidf_settings

TABLE = [  # dataset, method, map, n_queries, seen
    ("default", "tfidf", 0.29, 16, ""),
    ("default", "sbert", 0.31, 16, ""),
    ("onet", "tfidf", 0.21, 40, ""),
    ("onet", "sbert-tuned", 0.35, 40, "yes"),
]


@pytest.fixture(scope="module")
def state(small_pool_csv):
    return build_state(tfidf_settings(small_pool_csv))


def _client(state, reports) -> TestClient:
    state.settings.paths = {**state.settings.paths, "reports": str(reports)}
    return TestClient(create_app(state.settings, state=state), base_url=LOCAL_URL)


def _write_table(reports, rows=TABLE) -> None:
    (reports / "plots").mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows, columns=["dataset", "method", "map", "n_queries", "seen"])
    frame.to_csv(reports / "plots" / "comparison.csv", index=False)


def test_the_figure_is_a_png_of_the_served_methods(state, tmp_path):
    _write_table(tmp_path)
    client = _client(state, tmp_path)
    response = client.get("/about/comparison.png")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert client.get("/about/comparison.png").content == response.content  # drawn once
    assert "/about/comparison.png" in client.get("/openapi.json").json()["paths"]


def test_no_reports_yet_is_a_404_saying_what_to_run(state, tmp_path):
    response = _client(state, tmp_path / "nowhere").get("/about/comparison.png")
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "not_found"
    assert "comparison.csv is missing" in body["detail"] and "evaluate" in body["detail"]


def test_a_table_without_the_served_methods_or_unreadable_is_a_404(state, tmp_path):
    _write_table(tmp_path, [row for row in TABLE if row[1] != "tfidf"])
    response = _client(state, tmp_path).get("/about/comparison.png")
    assert response.status_code == 404
    assert "none of the served methods (tfidf)" in response.json()["detail"]
    (tmp_path / "plots" / "comparison.csv").write_text("dataset,method\ndefault,tfidf\n")
    response = _client(state, tmp_path).get("/about/comparison.png")
    assert response.status_code == 404
    assert "cannot draw the comparison" in response.json()["detail"]
