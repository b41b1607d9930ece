"""`shortlister rank --method ranknet|lambdarank --star ID`: the service's learned ranking.

The CLI and the service rank with the same `LearnedRanker` (ranking/ltr/pool.py): starred
candidates pinned first in the given order, the rest by the min-max normalised learned
score blended with the stars' similarity. A tiny trained ranker over a hashed encoder
(no model download) checks the two give the same list, query or not.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import shortlister.ranking.ltr.io as ltr_io
from shortlister.cli import main
from shortlister.serve.app import create_app
from shortlister.serve.settings import ServeSettings
from shortlister.serve.state import build_state
from tests.ranking.test_ltr import HashEmbedder
from tests.ranking.tiny_ranker import train_tiny_ranker, write_pool
from tests.serve.helpers import LOCAL_URL

QUERY = "aspiring human resources"
TOP_K = 15


@pytest.fixture(scope="module")
def pool_csv(tmp_path_factory):
    return write_pool(tmp_path_factory.mktemp("ltr_cli_stars"))


@pytest.fixture(scope="module", params=["ranknet", "lambdarank"])
def trained(request, pool_csv):
    """A tiny ranker of each loss (hashed encoder, 3 epochs), saved as the stage saves it."""
    csv, data = pool_csv
    return request.param, train_tiny_ranker(csv.parent, data, request.param), csv


@pytest.fixture
def hashed_sbert(monkeypatch):
    """The saved ranker's Sentence-BERT is built as the hashed stand-in, for both sides."""
    monkeypatch.setattr(ltr_io, "build_embedder", lambda cfg: HashEmbedder())


@pytest.fixture
def service(trained, hashed_sbert):
    name, model_dir, csv = trained
    settings = ServeSettings(candidates=str(csv), methods=["tfidf"], ltr_model_dir=str(model_dir))
    state = build_state(settings)
    assert name in state.methods, state.unavailable
    return TestClient(create_app(settings, state=state), base_url=LOCAL_URL)


def _served(client, name, **body):
    response = client.post("/rank", json={"method": name, "top_k": TOP_K, **body})
    assert response.status_code == 200, response.text
    return [(x["id"], f"{x['score']:.4f}", x["starred"]) for x in response.json()["items"]]


def _cli(name, model_dir, csv, tmp_path, *args):
    """(id, printed score, starred) per row of the table `rank` prints."""
    result = CliRunner().invoke(
        main,
        [
            "rank", "--candidates", str(csv), "--method", name, "--model-dir", str(model_dir),
            "--top-k", str(TOP_K), "--rejects", str(tmp_path / "rejects.csv"),
            "--warnings", str(tmp_path / "warnings.csv"), *args,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # The table alone (stdout): the header, rules, wrapped titles and the footer do not
    # start with a rank.
    lines = [line.split() for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert [int(parts[0]) for parts in lines] == list(range(1, len(lines) + 1))
    return [
        (parts[2], parts[-1], True) if parts[1] == "*" else (parts[1], parts[-1], False)
        for parts in lines
    ]


def test_cli_stars_rank_as_the_service(trained, service, tmp_path):
    name, model_dir, csv = trained
    plain = _served(service, name, query=QUERY, top_k=200)
    stars = [plain[-1][0], plain[-2][0]]  # low in the learned ranking: pinning shows
    served = _served(service, name, query=QUERY, stars=stars)
    cli = _cli(name, model_dir, csv, tmp_path, "--query", QUERY, "--star", stars[0],
               "--star", stars[1])  # fmt: skip
    assert [row[0] for row in cli[:2]] == stars and [row[2] for row in cli] == [True] * 2 + [
        False
    ] * (TOP_K - 2)
    assert cli == served
    # Another star weight, and stars alone (no query: the stars' similarity only).
    weighted = _served(service, name, query=QUERY, stars=stars[:1], star_weight=0.8)
    assert weighted == _cli(name, model_dir, csv, tmp_path, "--query", QUERY,
                            "--star", stars[0], "--star-weight", "0.8")  # fmt: skip
    alone = _served(service, name, stars=stars)
    assert alone == _cli(name, model_dir, csv, tmp_path, "--star", stars[0], "--star", stars[1])
    assert alone[:2] == [(s, alone[i][1], True) for i, s in enumerate(stars)]


def test_cli_without_stars_is_unchanged_and_bad_stars_fail_before_loading(
    trained, service, tmp_path
):
    name, model_dir, csv = trained
    # No stars: the learned ranking itself, raw scores, as the service returns it.
    assert _cli(name, model_dir, csv, tmp_path, "--query", QUERY) == _served(
        service, name, query=QUERY
    )
    runner = CliRunner()
    base = ["rank", "--candidates", str(csv), "--method", name, "--rejects",
            str(tmp_path / "r.csv"), "--warnings", str(tmp_path / "w.csv")]  # fmt: skip
    unknown = runner.invoke(main, [*base, "--model-dir", str(model_dir), "--star", "nobody"])
    assert unknown.exit_code == 1 and "unknown candidate id(s) starred: nobody" in unknown.output
    # Stars are checked before the model is looked for.
    missing = runner.invoke(main, [*base, "--model-dir", str(tmp_path / "none"), "--star", "x"])
    assert missing.exit_code == 1 and "starred: x" in missing.output
    empty = runner.invoke(main, [*base, "--model-dir", str(model_dir), "--query", " "])
    assert empty.exit_code == 1 and "--query is empty" in empty.output
