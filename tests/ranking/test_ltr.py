from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from shortlister.core.errors import ConfigError
from shortlister.data.clean import clean_candidates
from shortlister.data.default.build import generate_default_dataset
from shortlister.data.default.config import GenerateConfig
from shortlister.embeddings.base import l2_normalise
from shortlister.evaluation.metrics import ndcg_at_k
from shortlister.evaluation.trec import qrels_from_frame, read_run
from shortlister.ranking.features import (
    FeatureConfig,
    FeatureScaler,
    build_pool_index,
    candidate_list,
    pair_features,
    score_queries,
    split_segments,
)
from shortlister.ranking.ltr.config import LtrConfig, RankerConfig
from shortlister.ranking.ltr.io import load_ltr_ranker, save_ranker
from shortlister.ranking.ltr.lists import build_lists, recall_ceiling
from shortlister.ranking.ltr.losses import delta_ndcg, lambdarank_loss, ranknet_loss
from shortlister.ranking.ltr.model import RankNet
from shortlister.ranking.ltr.ranker import LtrRanker, rerank_scores, tie_rate
from shortlister.ranking.ltr.train import list_ndcg, train_ranker


class HashEmbedder:
    """A stand-in for Sentence-BERT: hashed words and character trigrams, unit rows.

    Deterministic and instant, so the tests below need no model download or load.
    """

    dim = 64

    def encode(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            low = f" {text.lower()} "
            grams = low.split() + [low[i : i + 3] for i in range(len(low) - 2)]
            for gram in grams:
                h = int(hashlib.md5(gram.encode()).hexdigest(), 16)
                out[row, h % self.dim] += 1.0 if (h >> 8) % 2 else -1.0
        return l2_normalise(out)


# ---------------------------------------------------------------------------- losses


def _loop_ranknet(scores, labels, sigma=1.0, weights=None):
    """The textbook definition, one pair at a time."""
    total, norm = 0.0, 0.0
    for i, j in itertools.product(range(len(scores)), repeat=2):
        if labels[i] > labels[j]:
            w = 1.0 if weights is None else weights[i][j]
            total += w * math.log1p(math.exp(-sigma * (scores[i] - scores[j])))
            norm += w
    return total / norm


def _ndcg_of_order(order, labels, k):
    gains = [labels[i] for i in order]
    dcg = sum(g / math.log2(p + 2) for p, g in enumerate(gains) if k is None or p < k)
    ideal = sorted(labels, reverse=True)
    idcg = sum(g / math.log2(p + 2) for p, g in enumerate(ideal) if k is None or p < k)
    return dcg / idcg


def _brute_force_deltas(scores, labels, k):
    """|NDCG change| from actually swapping the two candidates' places in the ranking."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    base = _ndcg_of_order(order, labels, k)
    out = np.zeros((len(scores), len(scores)))
    for i, j in itertools.product(range(len(scores)), repeat=2):
        swapped = list(order)
        pi, pj = swapped.index(i), swapped.index(j)
        swapped[pi], swapped[pj] = j, i
        out[i, j] = abs(_ndcg_of_order(swapped, labels, k) - base)
    return out


SCORES = [[0.3, -1.2, 2.0, 0.5, 0.0], [1.0, 0.2, -0.4, 0.0, 0.0]]
LABELS = [[2, 0, 1, 3, 0], [0, 1, 2, 0, 0]]
VALID = [[True] * 5, [True, True, True, False, False]]  # the second list is padded


def _batch():
    return (
        torch.tensor(SCORES, dtype=torch.float64),
        torch.tensor(LABELS),
        torch.tensor(VALID),
    )


def test_ranknet_loss_equals_a_loop_over_pairs():
    scores, labels, valid = _batch()
    expected = np.mean(
        [_loop_ranknet(SCORES[0], LABELS[0]), _loop_ranknet(SCORES[1][:3], LABELS[1][:3])]
    )
    assert float(ranknet_loss(scores, labels, valid)) == pytest.approx(expected, rel=1e-9)
    # sigma scales the score differences
    assert float(ranknet_loss(scores, labels, valid, sigma=2.0)) == pytest.approx(
        np.mean(
            [
                _loop_ranknet(SCORES[0], LABELS[0], 2.0),
                _loop_ranknet(SCORES[1][:3], LABELS[1][:3], 2.0),
            ]
        ),
        rel=1e-9,
    )


@pytest.mark.parametrize("k", [None, 2, 3])
def test_lambdarank_weights_equal_brute_force_swaps(k):
    scores, labels, valid = _batch()
    deltas = delta_ndcg(scores, labels, valid, k).numpy()
    np.testing.assert_allclose(deltas[0], _brute_force_deltas(SCORES[0], LABELS[0], k), atol=1e-12)
    np.testing.assert_allclose(
        deltas[1, :3, :3], _brute_force_deltas(SCORES[1][:3], LABELS[1][:3], k), atol=1e-12
    )
    assert not deltas[1, 3:].any() and not deltas[1, :, 3:].any()  # padding never counts
    loss = float(lambdarank_loss(scores, labels, valid, k=k))
    expected = np.mean(
        [
            _loop_ranknet(SCORES[0], LABELS[0], weights=deltas[0]),
            _loop_ranknet(SCORES[1][:3], LABELS[1][:3], weights=deltas[1]),
        ]
    )
    assert loss == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("loss_fn", [ranknet_loss, lambdarank_loss])
def test_gradients_push_a_misordered_pair_apart(loss_fn):
    # candidate 0 is relevant but scored below candidate 1
    scores = torch.tensor([[0.0, 1.0, -0.5]], requires_grad=True)
    labels = torch.tensor([[2, 0, 0]])
    valid = torch.ones(1, 3, dtype=torch.bool)
    loss_fn(scores, labels, valid).backward()
    grad = scores.grad[0]
    assert grad[0] < 0 < grad[1]  # descent raises the relevant one, lowers the other
    stepped = scores.detach() - 0.5 * scores.grad
    assert stepped[0, 0] - stepped[0, 1] > scores[0, 0] - scores[0, 1]


def test_a_list_without_pairs_gives_zero_loss_and_no_nan():
    scores = torch.zeros(1, 3, requires_grad=True)
    loss = ranknet_loss(scores, torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 3, dtype=bool))
    loss.backward()
    assert float(loss.detach()) == 0.0 and not torch.isnan(scores.grad).any()


def test_model_outputs_raw_scores_without_saturation():
    model = RankNet(4, [8], dropout=0.0, linear_skip=True)
    x = torch.randn(20, 4) * 1000  # a sigmoid would flatten these to 0/1
    assert len(set(model(x).tolist())) == 20


def test_tie_rate_and_rerank_scores():
    assert tie_rate(np.array([3.0, 2.0, 1.0, 0.5])) == 0.0
    assert tie_rate(np.array([1.0, 1.0, 0.5, 0.2]), k=4) == 0.5
    base = np.array([0.9, 0.1, 0.5, 0.7, 0.3], dtype=np.float32)
    full = rerank_scores(np.array([1, 4]), np.array([2.0, 5.0], dtype=np.float32), base)
    # the list first (model order), then the rest by the first-stage score
    assert list(np.argsort(-full, kind="stable")) == [4, 1, 0, 3, 2]


def test_config_split_and_validation():
    ltr, feat = RankerConfig.from_config(
        {"name": "x", "loss": "lambdarank", "vectors": ["product"], "bm25": {"k1": 2.0}}
    )
    assert ltr.loss == "lambdarank" and feat.vectors == ["product"] and feat.bm25_k1 == 2.0
    with pytest.raises(ConfigError, match="unknown option"):
        RankerConfig.from_config({"name": "x", "hiden_sizes": [3]})
    with pytest.raises(ConfigError, match="loss"):
        LtrConfig(loss="listnet")
    with pytest.raises(ConfigError, match="vectors"):
        FeatureConfig(vectors=["sum"])
    # The model/training part alone, and a feature mapping's own keys.
    assert LtrConfig.from_config({"loss": "lambdarank", "epochs": 3}).epochs == 3
    with pytest.raises(ConfigError, match=r"ranker: unknown keys \['vectors'\]"):
        LtrConfig.from_config({"vectors": []})
    assert FeatureConfig.from_config({"vectors": [], "loss": "x"}).vectors == []
    with pytest.raises(ConfigError, match="features.candidates_per_query"):
        FeatureConfig(candidates_per_query=0)


@pytest.mark.parametrize(
    ("knob", "value", "message"),
    [
        ("epochs", 0, "ranker.epochs must be an integer >= 1"),
        ("epochs", True, "ranker.epochs must be an integer >= 1, got True"),
        ("hidden_sizes", [8, 0], r"ranker.hidden_sizes\[1\] must be an integer >= 1"),
        ("dropout", 1.0, r"ranker.dropout must be a number in \[0.0, 1.0\)"),
        ("lr", 0.0, r"ranker.lr must be a number in \(0.0, inf\]"),
        ("weight_decay", -1e-4, "ranker.weight_decay must be a number"),
        ("patience", -1, "ranker.patience must be an integer >= 0"),
        ("batch_queries", 2.5, "ranker.batch_queries must be an integer"),
    ],
)
def test_config_validation_names_the_key(knob, value, message):
    with pytest.raises(ConfigError, match=message):
        LtrConfig(**{knob: value})


# ---------------------------------------------------------------------------- features


@pytest.fixture(scope="module")
def synthetic():
    """A small generated dataset (1,200 headlines, 20 queries) with a hashed encoder."""
    data = generate_default_dataset(GenerateConfig(n_candidates=1200, n_queries=20))
    pool = clean_candidates(data.candidates).clean.reset_index(drop=True)
    return pool, data.queries.reset_index(drop=True), qrels_from_frame(data.qrels)


def _index(pool, cfg):
    return build_pool_index(pool, cfg, sbert=HashEmbedder())


def _lists(pool, queries, qrels, cfg, split, index=None):
    index = index or _index(pool, cfg)
    rows = queries.index[queries["split"] == split].tolist()
    qs = score_queries(index, queries.loc[rows, "query"].tolist(), HashEmbedder())
    return build_lists(index, qs, queries.loc[rows, "query_id"].tolist(), qrels, cfg)


def test_feature_builder_shapes_and_names(synthetic):
    pool, queries, _ = synthetic
    cfg = FeatureConfig(
        vectors=["query", "candidate", "product", "absdiff"], use_screening_score=True
    )
    index = _index(pool, cfg)
    qs = score_queries(index, queries["query"].tolist()[:3], HashEmbedder())
    idx = candidate_list(qs, 1, 50)
    assert 50 <= len(idx) <= 100 and np.all(np.diff(idx) > 0)
    x = pair_features(index, qs, 1, idx, cfg)
    names = cfg.names(HashEmbedder.dim)
    assert x.shape == (len(idx), len(names)) and x.dtype == np.float32
    assert names[-2:] == ["screening_score", "screening_missing"]
    assert np.isfinite(x).all()
    # the gap to the pool's best is <= 0 and the product block sums to the cosine
    gap = x[:, names.index("sbert_cos_gap")]
    assert (gap <= 1e-6).all()
    product = x[:, names.index("product_0") : names.index("product_0") + HashEmbedder.dim]
    np.testing.assert_allclose(product.sum(axis=1), x[:, 0], atol=1e-5)


def test_missing_screening_column_means_all_missing(synthetic):
    pool, queries, _ = synthetic
    cfg = FeatureConfig(vectors=[], use_screening_score=True)
    index = _index(pool.drop(columns=["screening_score"]), cfg)  # like bls_soc
    qs = score_queries(index, ["registered nurse"], HashEmbedder())
    x = pair_features(index, qs, 0, np.arange(10), cfg)
    assert (x[:, -1] == 1.0).all() and (x[:, -2] == 0.0).all()


def test_headline_segments():
    flat, starts = split_segments(
        ["Nurse at Acme | caring", "Data Analyst", "Engineer - Bluepeak, Inc."],
        FeatureConfig().segment_pattern,
    )
    assert flat == ["Nurse", "Acme", "caring", "Data Analyst", "Engineer", "Bluepeak", "Inc."]
    assert starts.tolist() == [0, 3, 4]


def test_scaler_sees_training_queries_only(synthetic):
    pool, queries, qrels = synthetic
    cfg = FeatureConfig(vectors=[], candidates_per_query=30)
    index = _index(pool, cfg)
    train = _lists(pool, queries, qrels, cfg, "train", index)
    test = _lists(pool, queries, qrels, cfg, "test", index)
    small = LtrConfig(hidden_sizes=[8], epochs=2, patience=2)
    result = train_ranker(train, test, small)
    rows = np.vstack([lst.features for lst in train])
    np.testing.assert_allclose(result.scaler.mean, rows.mean(axis=0), rtol=1e-5, atol=1e-6)
    # Whatever the held-out lists hold, the scaler does not move.
    for lst in test:
        lst.features = lst.features * 100.0 + 7.0
    again = train_ranker(train, test, small)
    np.testing.assert_array_equal(again.scaler.mean, result.scaler.mean)
    np.testing.assert_array_equal(again.scaler.scale, result.scaler.scale)


def test_scaler_round_trip(tmp_path):
    scaler = FeatureScaler.fit([np.array([[1.0, 5.0], [3.0, 5.0]], dtype=np.float32)])
    assert scaler.scale[1] == 1.0  # a constant column passes through
    scaler.save(tmp_path / "s.npz")
    loaded = FeatureScaler.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(
        loaded.transform(np.ones((1, 2))), scaler.transform(np.ones((1, 2)))
    )


# ---------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def trained(synthetic):
    pool, queries, qrels = synthetic
    cfg = FeatureConfig(vectors=[], candidates_per_query=60)
    index = _index(pool, cfg)
    train = _lists(pool, queries, qrels, cfg, "train", index)
    val = _lists(pool, queries, qrels, cfg, "validation", index)
    ltr = LtrConfig(hidden_sizes=[16], epochs=25, patience=25, lr=3e-3, seed=7)
    return cfg, ltr, index, train, val


@pytest.mark.parametrize("loss", ["ranknet", "lambdarank"])
def test_training_improves_ndcg_over_the_initial_model(trained, loss):
    cfg, ltr, _, train, _ = trained
    names = cfg.names(HashEmbedder.dim)
    result = train_ranker(train, train, replace(ltr, loss=loss), names)
    initial = result.history[0]["val_ndcg"]  # the untrained model, same seed
    final = list_ndcg(result.model, result.scaler, train, 10)
    assert final > initial + 0.05, (initial, final)
    assert result.pairs_per_second > 0 and result.n_pairs > 0
    assert [h["epoch"] for h in result.history][:3] == [0, 1, 2]


def test_same_seed_same_scores(trained):
    cfg, ltr, _, train, val = trained
    short = replace(ltr, epochs=3, patience=3, threads=1)
    threads = torch.get_num_threads()
    first = train_ranker(train, val, short)
    assert torch.get_num_threads() == threads  # the process's setting is restored
    second = train_ranker(train, val, short)
    other = train_ranker(train, val, replace(short, seed=8))
    x = val[0].features
    a = first.model(torch.from_numpy(first.scaler.transform(x))).detach().numpy()
    b = second.model(torch.from_numpy(second.scaler.transform(x))).detach().numpy()
    c = other.model(torch.from_numpy(other.scaler.transform(x))).detach().numpy()
    np.testing.assert_array_equal(a, b)
    assert first.history == second.history
    assert not np.array_equal(a, c)


def test_init_weights_start_from_a_known_ranking(trained):
    cfg, ltr, _, train, _ = trained
    names = cfg.names(HashEmbedder.dim)
    result = train_ranker(
        train, train, replace(ltr, epochs=1, init_weights={"sbert_seg": 1.0}), names
    )
    seg = names.index("sbert_seg")
    by_feature = []
    for lst in train:
        order = np.lexsort((np.arange(len(lst.ids)), -lst.features[:, seg]))
        by_feature.append(ndcg_at_k([lst.ids[i] for i in order], lst.judgments, 10))
    assert result.history[0]["val_ndcg"] == pytest.approx(np.mean(by_feature))
    with pytest.raises(ConfigError, match="not features"):
        train_ranker(train, train, replace(ltr, init_weights={"nope": 1.0}), names)


def test_recall_ceiling(trained):
    _, _, _, train, _ = trained
    ceiling = recall_ceiling(train)
    assert 0 < ceiling["recall"] <= 1 and 0 < ceiling["ndcg@10"] <= 1


# ---------------------------------------------------------------------------- saved ranker


@pytest.fixture(scope="module")
def model_dir(trained, tmp_path_factory):
    cfg, ltr, _, train, val = trained
    # Starting from the best-segment cosine, as the shipped configs do.
    prior = replace(ltr, epochs=3, init_weights={"sbert_seg": 1.0})
    result = train_ranker(train, val, prior, cfg.names(HashEmbedder.dim))
    out = tmp_path_factory.mktemp("ranker") / "ranknet"
    save_ranker(out, result, ltr, cfg)
    return out, result


def test_saved_ranker_scores_like_the_trained_one(model_dir, synthetic):
    path, result = model_dir
    pool, queries, _ = synthetic
    ranker = load_ltr_ranker(path, sbert=HashEmbedder())
    live = LtrRanker(result.model, result.scaler, ranker.features, HashEmbedder())
    query = queries["query"].iat[0]
    np.testing.assert_array_equal(ranker.score(query, pool), live.score(query, pool))
    scores = ranker.score(query, pool)
    assert scores.shape == (len(pool),) and scores.dtype == np.float32
    order, full = ranker.search(query, pool, k=10)
    assert len(order) == 10 and np.all(np.diff(full[order]) <= 0)
    run = ranker.batch(queries.head(3), pool, k=5)
    assert list(run) == queries["query_id"].head(3).tolist()
    # one query alone or in a batch: the same ranking
    assert [c for c, _ in run[queries["query_id"].iat[0]]] == pool["id"].iloc[order[:5]].tolist()
    with pytest.raises(FileNotFoundError, match="not a trained ranker"):
        load_ltr_ranker(path.parent / "missing")


def test_cli_ranks_with_a_trained_model(model_dir, tmp_path):
    """`shortlister rank --method ranknet --model-dir ...` with the packaged Sentence-BERT."""
    path, _ = model_dir
    features = FeatureConfig.load(path / "features.json")
    features.sbert = {"name": "sbert", "cache_dir": str(tmp_path / "cache")}
    features.save(path / "features.json")  # scalars only: no dependence on the encoder width
    pool = pd.DataFrame(
        {
            "id": ["1", "2", "3", "4", "5"],
            "title": [
                "Aspiring HR Professional",
                "Native English Teacher at EPIK",
                "Human Resources Generalist at Acme",
                "Software Engineer | Python",
                "Registered Nurse",
            ],
            "location": ["Houston, Texas"] * 5,
        }
    )
    csv = tmp_path / "pool.csv"
    pool.to_csv(csv, index=False)
    (tmp_path / "q.tsv").write_text("query_id\tquery\nq1\thuman resources\nq2\tnurse\n")
    from shortlister.cli import main

    runner = CliRunner()
    base = ["rank", "--candidates", str(csv), "--method", "ranknet", "--model-dir", str(path)]
    one = runner.invoke(main, [*base, "--query", "human resources", "--top-k", "3"])
    assert one.exit_code == 0, one.output
    ranked = [line.split()[1] for line in one.output.splitlines()[2:5]]
    assert len(set(ranked)) == 3 and ranked[0] in {"1", "3"}, one.output
    out = tmp_path / "run.trec"
    batch = runner.invoke(main, [*base, "--queries", str(tmp_path / "q.tsv"), "--out", str(out)])
    assert batch.exit_code == 0, batch.output
    run = read_run(out)
    assert set(run) == {"q1", "q2"} and len(run["q2"]) == 5
    # Stars work as with the embedding methods: pinned first, flagged (see
    # test_ltr_cli_stars.py for the order against the service's).
    starred = runner.invoke(main, [*base, "--query", "nurse", "--star", "1"])
    assert starred.exit_code == 0, starred.output
    assert starred.output.splitlines()[2].split()[1:3] == ["*", "1"], starred.output
