"""A large pool served through its ANN index: the pipeline's stored layout, real MiniLM.

The pool (3,000 rows: 300 real BLS titles, each ten times with a little noise on its real
MiniLM vector) is laid out as the pipeline lays it out, with `index.min_pool` at 100 so
it goes through the stored index; one at 10,000 keeps it on the exact scan.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from starlette.testclient import TestClient

from shortlister.cli import main
from shortlister.core.errors import ConfigError
from shortlister.data.sources import load_bls_titles
from shortlister.embeddings.base import build_embedder, save_matrix
from shortlister.embeddings.sbert import SbertEmbedder
from shortlister.index.ann import AnnIndex, IndexMismatch
from shortlister.index.config import IndexConfig
from shortlister.ranking.indexed import embedder_hash
from shortlister.serve.app import create_app
from shortlister.serve.settings import ServeSettings
from shortlister.serve.state import build_state
from tests.serve.helpers import LOCAL_URL, rank_ok

N_TITLES, COPIES = 300, 10
N = N_TITLES * COPIES
METHOD = "sbert"
QUERY = "registered nurse"


@pytest.fixture(scope="module")
def pool_data():
    """(frame, matrix, embedder): real titles and their real MiniLM vectors, tiled."""
    bls = load_bls_titles()["raw"].drop_duplicates().tolist()
    titles = bls[:: max(1, len(bls) // N_TITLES)][:N_TITLES]
    embedder = build_embedder({"name": METHOD, "cache_dir": None})
    real = np.asarray(embedder.encode(titles), dtype=np.float32)
    rng = np.random.default_rng(7)
    base = np.tile(np.arange(N_TITLES), COPIES)
    noise = rng.standard_normal((N, real.shape[1])).astype(np.float32)
    matrix = real[base] + 0.05 * noise / np.linalg.norm(noise, axis=1, keepdims=True)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    frame = pd.DataFrame(
        {
            "id": [f"c{i:05d}" for i in range(N)],
            "title": [titles[b] for b in base],
            "title_raw": [titles[b].upper() for b in base],
            "location": ["Houston, Texas"] * N,
            "screening_score": np.where(np.arange(N) % 7 == 0, np.nan, np.arange(N) % 100),
        }
    )
    return frame, matrix.astype(np.float32), embedder


def lay_out(root: Path, frame, matrix, embedder, index_matrix=None) -> dict:
    """The pipeline's folders under `root` (clean, embed@sbert, index@sbert); its params."""
    paths = {
        "interim": str(root / "data/interim"),
        "embeddings": str(root / "data/processed/embeddings"),
        "models": str(root / "models"),
    }
    Path(paths["interim"]).mkdir(parents=True)
    frame.to_parquet(Path(paths["interim"]) / "candidates.parquet", index=False)
    stem = Path(paths["embeddings"]) / METHOD / "default"
    save_matrix(stem, matrix)
    Path(f"{stem}.ids.txt").write_text("\n".join(frame["id"]) + "\n")
    embedder.save(Path(paths["models"]) / METHOD / "default")
    built = AnnIndex.build(
        matrix if index_matrix is None else index_matrix, IndexConfig(), embedder_hash(embedder)
    )
    built.save(Path(paths["models"]) / "index" / METHOD / "default")
    return {"paths": paths, "serve": {"methods": [METHOD, "tfidf"]}, "index": {"min_pool": 100}}


@pytest.fixture(scope="module")
def params(pool_data, tmp_path_factory):
    return lay_out(tmp_path_factory.mktemp("large"), *pool_data)


@pytest.fixture(scope="module")
def encoded():
    """Sizes of the text batches SbertEmbedder.encode is given while the module runs."""
    sizes: list[int] = []
    original = SbertEmbedder.encode

    def counting(self, texts):
        sizes.append(len(texts))
        return original(self, texts)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SbertEmbedder, "encode", counting)
        yield sizes


@pytest.fixture(scope="module")
def state(params, encoded):
    encoded.clear()
    built = build_state(ServeSettings.from_config(params))
    assert encoded and max(encoded) == 1, encoded  # the warm-up only: no pool re-embedded
    return built


@pytest.fixture(scope="module")
def client(state):
    return TestClient(create_app(state.settings, state=state), base_url=LOCAL_URL)


def test_health_and_methods_report_the_index(client, state):
    health = client.get("/health").json()
    assert health["n_candidates"] == N and health["methods"] == [METHOD, "tfidf"]
    assert health["index"] == {
        METHOD: {
            "backend": "faiss-hnsw",
            "n": N,
            "storage": "int8",
            "ef_search": 64,
            "nprobe": None,
            "stored": True,
        },
        "tfidf": None,  # sparse: fitted at start-up, scanned exactly
    }
    described = {m["name"]: m for m in client.get("/methods").json()["methods"]}
    assert described[METHOD]["index"] == health["index"][METHOD]
    assert described[METHOD]["source"] == "stored" and described["tfidf"]["index"] is None
    method = state.methods[METHOD]
    assert isinstance(method.ranker.matrix, np.memmap)  # mapped, not read
    assert state.methods["tfidf"].ranker.positions is state.positions  # one id mapping


def test_rank_through_the_index(client, state, pool_data, encoded):
    frame, matrix, _ = pool_data
    result = rank_ok(client, query=QUERY, top_k=20)
    items = result["items"]
    assert len(items) == 20 and result["n_candidates"] == N and result["match"]["matched"]
    assert "nurse" in items[0]["title"].lower()
    assert set(items[0]) == {
        "rank", "id", "title", "location", "screening_score", "score", "starred",
        "country", "group_size", "group_ids", "reasons",
    }  # fmt: skip
    # The index's top 20 are the exact scan's, but for the int8 rounding's near ties.
    vector = np.asarray(SbertEmbedder.encode(state.methods[METHOD].ranker.embedder, [QUERY]))
    exact = np.argsort(-(matrix @ vector.reshape(-1)))[:20]
    assert len({i["id"] for i in items} & set(frame["id"].iloc[exact])) >= 17
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)
    row = frame.set_index("id").loc[items[0]["id"]]
    assert items[0]["title"] == row["title"] and items[0]["location"] == row["location"]


def test_stars_are_pinned_first_through_the_index(client):
    before = rank_ok(client, query=QUERY, top_k=15)
    far = f"c{N - 1:05d}"  # not among the query's hits: found by id, not by the search
    stars = [before["items"][9]["id"], far]
    after = rank_ok(client, query=QUERY, top_k=15, stars=stars)
    assert [i["id"] for i in after["items"][:2]] == stars
    assert [i["starred"] for i in after["items"]] == [True, True] + [False] * 13
    assert after["timing"]["query_cached"] is True
    alone = rank_ok(client, stars=[far], top_k=5)
    assert alone["items"][0]["id"] == far
    assert alone["items"][0]["score"] == pytest.approx(1.0, abs=1e-4)


def test_unknown_star_and_candidate_lookup(client, pool_data):
    response = client.post("/rank", json={"query": QUERY, "stars": ["nobody"]})
    assert response.status_code == 422 and response.json()["error"] == "invalid_stars"
    frame = pool_data[0]
    got = client.get("/candidates/c00007").json()
    assert got == {
        "id": "c00007",
        "title": frame["title"][7],
        "title_raw": frame["title_raw"][7],
        "location": "Houston, Texas",
        "screening_score": None,  # NaN in the pool
    }
    assert client.get("/candidates/c99999").status_code == 404


def test_rows_are_built_on_demand(state, pool_data):
    frame = pool_data[0]
    assert len(state.rows) == N and state.rows[-1]["id"] == frame["id"].iloc[-1]
    assert state.rows[8] == {
        "id": "c00008",
        "title": frame["title"][8],
        "title_raw": frame["title_raw"][8],
        "location": "Houston, Texas",
        "screening_score": 8.0,
    }
    with pytest.raises(IndexError):
        state.rows[N]
    ids, titles = state.titles
    assert len(ids) == len(titles) == N and titles[3] == frame["title"][3]
    assert state.positions[ids[123]] == 123


def test_below_min_pool_the_pool_is_scanned_exactly(params):
    exact = build_state(ServeSettings.from_config({**params, "index": {"min_pool": 10_000}}))
    client = TestClient(create_app(exact.settings, state=exact), base_url=LOCAL_URL)
    assert client.get("/health").json()["index"] == {METHOD: None, "tfidf": None}
    assert exact.methods[METHOD].source == "stored"
    assert rank_ok(client, query=QUERY, stars=["c00042"], top_k=5)["items"][0]["id"] == "c00042"


def test_without_a_stored_index_one_is_built_at_start_up(pool_data, tmp_path):
    params = lay_out(tmp_path, *pool_data)
    index_dir = Path(params["paths"]["models"]) / "index" / METHOD / "default"
    for path in index_dir.iterdir():
        path.unlink()
    state = build_state(ServeSettings.from_config(params))
    info = state.methods[METHOD].index_info()
    assert info["backend"] == "faiss-hnsw" and info["n"] == N and info["stored"] is False


def test_a_mismatched_index_stops_the_start_up(pool_data, tmp_path):
    frame, matrix, embedder = pool_data
    other = np.roll(matrix, 1, axis=0)  # the same shape, other rows
    params = lay_out(tmp_path, frame, matrix, embedder, index_matrix=other)
    where = str(Path(params["paths"]["models"]) / "index" / METHOD / "default" / "index.json")
    with pytest.raises(IndexMismatch) as raised:
        build_state(ServeSettings.from_config(params))
    message = str(raised.value)
    assert where in message and "rows differ from those indexed" in message
    assert "dvc repro index@sbert" in message and message.startswith("serve: method sbert: ")
    # From the command line: one line, status 1, before anything is served.
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = CliRunner().invoke(main, ["serve", "--params", str(tmp_path / "params.yaml")])
    assert result.exit_code == 1, result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and where in error[0] and "rows differ" in error[0]


def test_the_index_section_comes_from_params_and_is_checked():
    assert ServeSettings.from_config({}).index_config == IndexConfig()
    settings = ServeSettings.from_config({"index": {"min_pool": 5, "ef_search": 32}})
    assert settings.index_config.min_pool == 5 and settings.index_config.ef_search == 32
    with pytest.raises(ConfigError, match="index.min_pool"):
        ServeSettings.from_config({"index": {"min_pool": -1}})
