from __future__ import annotations

import json
import re

import numpy as np
import pytest
import scipy.sparse as sp

from shortlister.core.errors import ConfigError
from shortlister.data.clean import clean_candidates
from shortlister.data.datasets import Dataset
from shortlister.data.default.build import generate_default_dataset, write_default_dataset
from shortlister.data.default.config import GenerateConfig
from shortlister.data.loader import load_candidates
from shortlister.embeddings.base import l2_normalise
from shortlister.evaluation.metrics import ndcg_at_k
from shortlister.ranking.starring import (
    StarringConfig,
    choose_stars,
    markdown_table,
    starring_effect,
    weight_key,
)
from shortlister.stages import starring as stage

IDS = ["a", "d", "e", "b", "c", "f", "g"]
# a is the relevant candidate the query ranks first; d and e match the query but are not
# relevant; b and c are relevant and resemble a more than the query.
MATRIX = l2_normalise(
    np.array(
        [
            [0.90, 0.44, 0.00],  # a  grade 3
            [0.85, 0.00, 0.53],  # d  grade 0
            [0.80, 0.00, 0.60],  # e  grade 0
            [0.50, 0.87, 0.00],  # b  grade 3
            [0.45, 0.89, 0.00],  # c  grade 2
            [0.00, 0.00, 1.00],  # f  unjudged
            [0.00, 1.00, 0.00],  # g  grade 1
        ],
        dtype=np.float32,
    )
)
QUERY = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
QRELS = {"q1": {"a": 3, "d": 0, "e": 0, "b": 3, "c": 2, "g": 1}}


def _cfg(**kw) -> StarringConfig:
    return StarringConfig(**{"n_stars": [1], "star_weights": [0.0, 1.0], "ndcg_k": 3, **kw})


def test_top_stars_are_the_query_only_best_and_are_left_out_of_scoring():
    result = starring_effect(MATRIX, IDS, QUERY, ["q1"], QRELS, _cfg())
    row = result.per_query.query("selection == 'top'").iloc[0]
    remaining = {c: g for c, g in QRELS["q1"].items() if c != "a"}  # a was starred
    assert row["query_only"] == pytest.approx(ndcg_at_k(["d", "e", "b"], remaining, 3))
    # weight 0 is the query-only ranking; weight 1 ranks by resemblance to a: b, c first
    assert row[weight_key(0.0)] == pytest.approx(row["query_only"])
    assert row[weight_key(1.0)] == pytest.approx(ndcg_at_k(["b", "c", "d"], remaining, 3))
    top = result.summary["top"]["stars_1"]
    assert top["n_queries"] == 1
    assert top[f"delta_{weight_key(1.0)}"] > 0.5


def test_queries_with_too_few_relevant_candidates_are_skipped():
    cfg = _cfg(n_stars=[1, 2, 3])
    result = starring_effect(MATRIX, IDS, QUERY, ["q1"], QRELS, cfg)
    assert result.summary["top"]["stars_2"]["n_queries"] == 1  # a and b are grade 3
    assert result.summary["top"]["stars_3"]["n_queries"] == 0
    assert result.summary["top"]["stars_3"] == {"n_queries": 0.0}
    table = markdown_table(result.summary, cfg)
    assert re.search(r"\| top-ranked relevant +\| 3 +\| 0 +\| – ", table), table


def test_random_stars_are_seeded_and_relevant():
    relevant = [0, 3, 4, 6]
    draws = [choose_stars(relevant, 2, "random", np.random.default_rng(7)) for _ in range(2)]
    assert draws[0] == draws[1] and set(draws[0]) <= set(relevant) and len(set(draws[0])) == 2
    assert choose_stars(relevant, 2, "top", None) == [0, 3]
    cfg = _cfg(random_draws=3)
    one = starring_effect(MATRIX, IDS, QUERY, ["q1"], QRELS, cfg).summary
    two = starring_effect(MATRIX, IDS, QUERY, ["q1"], QRELS, cfg).summary
    assert one == two


def test_sparse_embeddings_give_the_same_numbers():
    dense = starring_effect(MATRIX, IDS, QUERY, ["q1"], QRELS, _cfg()).summary
    sparse = starring_effect(
        sp.csr_matrix(MATRIX), IDS, sp.csr_matrix(QUERY), ["q1"], QRELS, _cfg()
    ).summary
    assert dense == sparse


def test_config_is_validated():
    with pytest.raises(ConfigError, match="n_stars"):
        StarringConfig(n_stars=[6])
    with pytest.raises(ConfigError, match="star_weight"):
        StarringConfig(star_weights=[1.5])
    with pytest.raises(ConfigError, match="differ"):
        StarringConfig(star_weights=[0.5, 0.501])
    with pytest.raises(ConfigError, match="gain"):
        StarringConfig(gain="cubic")


def test_stage_writes_the_metric_and_the_table(tmp_path):
    """The stage on a small generated pipeline layout (tfidf, stored embeddings)."""
    from shortlister.stages.embed import embed_dataset

    raw, interim = tmp_path / "raw", tmp_path / "interim"
    generated = generate_default_dataset(GenerateConfig(n_candidates=600, n_queries=10))
    write_default_dataset(generated, raw)
    pool = clean_candidates(load_candidates(raw / "candidates.csv")).clean
    interim.mkdir()
    pool.to_parquet(interim / "candidates.parquet", index=False)
    dataset = Dataset("default", pool, generated.queries, {})
    embed_dataset(
        {"name": "tfidf"}, dataset, tmp_path / "models" / "tfidf", tmp_path / "emb" / "tfidf"
    )
    params = {
        "embeddings": {"name": "tfidf"},
        "evaluation": {"ndcg_k": 10, "gain": "linear"},
        "serve": {"starring": {"split": "train", "n_stars": [1, 2], "star_weights": [0.5]}},
        "paths": {
            "raw_default": str(raw),
            "interim": str(interim),
            "models": str(tmp_path / "models"),
            "embeddings": str(tmp_path / "emb"),
            "reports": str(tmp_path / "reports"),
        },
    }
    summary = stage.run(params)
    written = json.loads((tmp_path / "reports" / "starring.json").read_text())
    assert written == json.loads(json.dumps(summary))
    assert set(written) == {"top", "random"}
    assert written["top"]["stars_1"]["n_queries"] >= 1
    assert "w=0.5" in (tmp_path / "reports" / "starring.md").read_text()
    with pytest.raises(ConfigError, match="serve: default"):
        stage.run({**params, "serve": {}})
