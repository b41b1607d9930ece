from __future__ import annotations

import yaml

from shortlister.core.params import compose


def test_committed_params_equal_the_default_composition(root):
    """Plain `dvc repro` reads params.yaml; it must be what conf/ composes to."""
    committed = yaml.safe_load((root / "params.yaml").read_text())
    assert committed == compose(config_dir=root / "conf")


def test_embeddings_override_selects_the_method(root):
    params = compose(["embeddings=tfidf"], config_dir=root / "conf")
    assert params["embeddings"]["name"] == "tfidf"
    assert {"tfidf", "word2vec", "glove", "fasttext", "sbert"} <= set(params["methods"])
    assert params["methods"]["word2vec_mean"]["weighting"] == "mean"


def test_small_data_config_shrinks_the_pool(root):
    small = compose(["data=small"], config_dir=root / "conf")
    full = compose(config_dir=root / "conf")
    assert small["data"]["default"]["n_candidates"] < full["data"]["default"]["n_candidates"]
    assert full["data"]["default"]["n_candidates"] >= 5000
    assert full["data"]["default"]["n_queries"] >= 60
