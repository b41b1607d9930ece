"""The ANN backends and the exact int8 scan: recall against float32, save/load, refusals."""

from __future__ import annotations

import numpy as np
import pytest

import shortlister.index.scan as scan
from shortlister.core.errors import ConfigError
from shortlister.index.ann import AnnIndex, IndexMismatch, neighbour_recall
from shortlister.index.config import BACKENDS, IndexConfig
from shortlister.index.scan import Int8Scan


def clustered(n: int, d: int = 48, centres: int = 60, seed: int = 0) -> np.ndarray:
    """Unit rows around a few centres, as titles cluster by occupation."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, d), dtype=np.float32)
    x = c[rng.integers(0, centres, n)] + 0.35 * rng.standard_normal((n, d), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def pool() -> np.ndarray:
    return clustered(4000)


def test_neighbour_recall_counts_short_searches_as_misses():
    exact = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    found = np.array([[4, 3, 9, -1], [5, 6, 7, 8]])
    assert neighbour_recall(found, exact) == pytest.approx((2 / 4 + 1.0) / 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_finds_the_exact_neighbours_and_survives_a_round_trip(pool, backend, tmp_path):
    queries = clustered(40, seed=1)
    exact = np.argsort(-(queries @ pool.T), axis=1, kind="stable")[:, :10]
    cfg = IndexConfig(backend=backend, ef_search=128)
    index = AnnIndex.build(pool, cfg, "model-a")
    rows, scores = index.search(queries, 10)
    assert rows.shape == scores.shape == (40, 10)
    assert neighbour_recall(rows, exact) >= 0.9
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
    # scores are cosines of the rows returned (int8 rounding aside)
    true = np.take_along_axis(queries @ pool.T, rows, axis=1)
    assert np.abs(scores - true).max() < 0.02
    assert index.nbytes() > 0 and index.manifest.build_s >= 0

    one, one_scores = index.search(queries[0], 10)  # a single query, as the service asks
    assert one.shape == (1, 10) and one[0].tolist() == rows[0].tolist()

    loaded = AnnIndex.load(index.save(tmp_path / backend), pool, "model-a", cfg)
    again, _ = loaded.search(queries, 10)
    assert neighbour_recall(again, rows) >= 0.99
    assert loaded.manifest.n == 4000 and loaded.manifest.dim == 48


def test_an_index_of_other_embeddings_is_refused_naming_what_differs(pool, tmp_path):
    where = AnnIndex.build(pool, IndexConfig(backend="int8-scan"), "model-a").save(tmp_path)
    with pytest.raises(IndexMismatch, match="4000 rows indexed, the embeddings have 3999"):
        AnnIndex.load(where, pool[:-1], "model-a")
    with pytest.raises(IndexMismatch, match="dimension 48 indexed"):
        AnnIndex.load(where, clustered(4000, d=32), "model-a")
    with pytest.raises(IndexMismatch, match="model hash"):
        AnnIndex.load(where, pool, "model-b")
    changed = pool.copy()
    changed[0] = changed[1]
    with pytest.raises(IndexMismatch, match="rows differ"):
        AnnIndex.load(where, changed, "model-a")
    with pytest.raises(FileNotFoundError, match="no index here"):
        AnnIndex.load(tmp_path / "absent", pool)
    (where / "codes.npy").unlink()
    with pytest.raises(ValueError, match="index files missing beside the manifest: codes.npy"):
        AnnIndex.load(where, pool, "model-a")


def test_search_time_settings_come_from_config_build_settings_from_the_manifest(pool, tmp_path):
    built = AnnIndex.build(pool, IndexConfig(backend="faiss-hnsw", connectivity=16), "m")
    where = built.save(tmp_path)
    loaded = AnnIndex.load(where, pool, "m", IndexConfig(connectivity=48, ef_search=200))
    assert loaded.cfg.connectivity == 16 and loaded.cfg.ef_search == 200
    assert loaded.backend.hnsw.efSearch == 200


def test_int8_scan_equals_integer_arithmetic_across_chunks(pool, monkeypatch):
    monkeypatch.setattr(scan, "_CHUNK_VALUES", 48 * 1500)  # three MatMulInteger constants
    queries = clustered(5, seed=2)
    index = Int8Scan.build(pool)
    top = np.abs(queries).max(axis=1) / 127.0
    q = np.rint(queries / top[:, None])
    expected = (q @ index.codes.T.astype(np.float64)) * top[:, None] * index.scales[None, :]
    np.testing.assert_allclose(index.scores(queries), expected, rtol=1e-5, atol=1e-6)
    assert np.abs(index.scores(queries) - queries @ pool.T).max() < 0.02


def test_k_beyond_the_pool_and_empty_inputs(pool):
    index = AnnIndex.build(pool[:5], IndexConfig(backend="faiss-hnsw"), "m")
    rows, _ = index.search(pool[:1], 50)
    assert sorted(rows[0].tolist()) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="cannot index embeddings of shape"):
        AnnIndex.build(np.zeros((0, 48), np.float32), IndexConfig(), "m")


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"backend": "annoy"}, "index.backend must be one of"),
        ({"storage": "int4"}, "index.storage must be one of"),
        ({"ef_search": 0}, "index.ef_search must be an integer >= 1"),
        ({"min_pool": -1}, "index.min_pool must be an integer >= 0"),
        ({"efsearch": 10}, "index: unknown keys"),
    ],
)
def test_bad_config_is_refused_naming_the_key(cfg, message):
    with pytest.raises(ConfigError, match=message):
        IndexConfig.from_config(cfg)
