"""A pool searched through its index ranks as the exact scan does, stars included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shortlister.embeddings.base import build_embedder, save_matrix
from shortlister.index.ann import AnnIndex, IndexMismatch
from shortlister.index.config import IndexConfig
from shortlister.ranking.indexed import QueryHits, SparseScores, embedder_hash, index_for
from shortlister.ranking.pool import CandidatePool
from shortlister.ranking.starred import StarError
from tests.index.test_ann import clustered

N = 3000
EXACT_CFG = IndexConfig(backend="faiss-hnsw", storage="fp32", ef_search=400, min_pool=0)


@pytest.fixture(scope="module")
def pools():
    """The same pool twice: scanned exactly, and through an index (min_pool 0)."""
    matrix = clustered(N, d=384, centres=40, seed=3)
    frame = pd.DataFrame({"id": [f"c{i}" for i in range(N)], "title": ["t"] * N})
    embedder = build_embedder({"name": "sbert", "cache_dir": None})
    index = AnnIndex.build(matrix, EXACT_CFG, embedder_hash(embedder))
    caches = {"query_cache_size": 8, "score_cache_bytes": 2**20}
    exact = CandidatePool(frame, embedder, matrix, **caches)
    return exact, CandidatePool(frame, embedder, matrix, index=index, **caches)


@pytest.mark.parametrize("stars", [[], ["c5"], ["c5", "c900", "c2000"]])
@pytest.mark.parametrize("weight", [0.25, 0.75])
def test_indexed_ranking_equals_the_exact_one(pools, stars, weight):
    exact, indexed = pools
    vector = clustered(1, d=384, centres=40, seed=4)
    a = exact.rerank(vector, stars, k=20, star_weight=weight)
    b = indexed.rerank(vector, stars, k=20, star_weight=weight)
    assert b.order[: len(stars)].tolist() == [exact.positions[s] for s in stars]  # pinned
    assert b.n_starred == len(stars) and len(b.order) == 20
    assert len(set(a.order.tolist()) & set(b.order.tolist())) >= 19
    np.testing.assert_allclose(b.scores[b.order], a.scores[b.order], atol=1e-5)


def test_stars_alone_and_unknown_stars(pools):
    exact, indexed = pools
    a, b = exact.rerank(None, ["c7"], k=10), indexed.rerank(None, ["c7"], k=10)
    assert b.order[0] == 7 and len(set(a.order.tolist()) & set(b.order.tolist())) >= 9
    with pytest.raises(StarError, match="unknown candidate id"):
        indexed.rerank(None, ["nobody"], k=10)
    with pytest.raises(StarError, match="give a query, starred candidates, or both"):
        indexed.rerank(None, [], k=10)


def test_the_service_path_query_then_star_toggle(pools):
    """query_scores -> rank_scores -> match, as POST /rank runs them (real MiniLM)."""
    exact, indexed = pools
    hits, cached = indexed.query_scores("human resources")
    assert isinstance(hits, QueryHits) and not cached and len(hits.rows) == 200
    again, cached = indexed.query_scores("human resources")
    assert cached and again is hits
    plain = indexed.rank_scores(hits, [], k=20)
    assert plain.order.tolist() == hits.rows[:20].tolist()  # no second search
    starred = indexed.rank_scores(hits, ["c11"], k=20)
    assert starred.order[0] == 11 and isinstance(starred.scores, SparseScores)
    reference = exact.rank_scores(exact.query_scores("human resources")[0], ["c11"], k=20)
    assert len(set(starred.order.tolist()) & set(reference.order.tolist())) >= 19
    found = indexed.match("human resources")
    assert found.best == pytest.approx(float(hits.scores[0]))
    assert found.floor == exact.match("human resources").floor


def test_batch_through_the_index(pools):
    exact, indexed = pools
    queries = pd.DataFrame({"query_id": ["q1", "q2"], "query": ["nurse", "software engineer"]})
    a, b = exact.batch(queries, 10), indexed.batch(queries, 10)
    for qid in ("q1", "q2"):
        assert len({c for c, _ in a[qid]} & {c for c, _ in b[qid]}) >= 9


def test_index_for_scans_small_pools_and_checks_stored_ones(tmp_path):
    matrix = clustered(500, d=384, seed=5)
    sbert = build_embedder({"name": "sbert", "cache_dir": None})
    assert index_for(matrix, sbert, IndexConfig(min_pool=501)) is None
    built = index_for(matrix, sbert, IndexConfig(min_pool=500, backend="int8-scan"))
    assert built is not None and built.n == 500
    built.save(tmp_path / "idx")
    loaded = index_for(matrix, sbert, IndexConfig(min_pool=10), tmp_path / "idx")
    assert loaded.name == "int8-scan"
    other = build_embedder({"name": "sbert", "cache_dir": None, "max_seq_length": 16})
    with pytest.raises(IndexMismatch, match="model hash"):
        index_for(matrix, other, IndexConfig(min_pool=10), tmp_path / "idx")


def test_from_stored_memory_maps_and_uses_the_stored_index(tmp_path):
    matrix = clustered(600, d=384, seed=6)
    frame = pd.DataFrame({"id": [f"c{i}" for i in range(600)], "title": ["t"] * 600})
    sbert = build_embedder({"name": "sbert", "cache_dir": None})
    sbert.save(tmp_path / "model")
    save_matrix(tmp_path / "emb", matrix)
    (tmp_path / "emb.ids.txt").write_text("\n".join(frame["id"]) + "\n")
    cfg = IndexConfig(min_pool=100, backend="faiss-hnsw")
    AnnIndex.build(matrix, cfg, embedder_hash(sbert)).save(tmp_path / "index")
    pool = CandidatePool.from_stored(
        frame, tmp_path / "model", tmp_path / "emb", cfg, tmp_path / "index"
    )
    assert isinstance(pool.matrix, np.memmap) and pool.index.name == "faiss-hnsw"
    small = CandidatePool.from_stored(frame, tmp_path / "model", tmp_path / "emb", IndexConfig())
    assert small.index is None  # 600 rows < the default min_pool: exact scan
