"""The `llm` stage on a tiny dataset: skipped (no model here) and ok (a tiny local model),
and the evaluate stage with and without its runs."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from shortlister.core.params import compose
from shortlister.evaluation.trec import read_run, write_qrels, write_run
from shortlister.stages import evaluate
from shortlister.stages import llm as stage

TITLES = ["Registered Nurse", "HR Generalist", "Teacher", "Software Engineer", "HR Assistant",
          "Nurse Practitioner", "Recruiter", "Accountant", "Talent Partner", "Cook"]  # fmt: skip
QUERIES = [("q1", "nurse", "train"), ("q2", "human resources", "test"),
           ("q3", "recruiter", "test"), ("q4", "teacher", "test")]  # fmt: skip


@pytest.fixture()
def params(tmp_path, root) -> dict:
    """A pool of 10, 4 queries, one first-stage run (sbert) and the real evaluation config."""
    real = compose(config_dir=root / "conf")
    paths = {k: str(tmp_path / k) for k in ("raw_default", "interim", "external", "embeddings",
                                             "models", "runs", "reports")}  # fmt: skip
    ids = [f"c{i}" for i in range(1, 11)]
    (tmp_path / "interim").mkdir()
    pd.DataFrame({"id": ids, "title": TITLES}).to_parquet(tmp_path / "interim/candidates.parquet")
    raw = tmp_path / "raw_default"
    raw.mkdir()
    lines = ["query_id\tquery\tsplit", *("\t".join(q) for q in QUERIES)]
    (raw / "queries.tsv").write_text("\n".join(lines) + "\n")
    write_qrels(raw / "qrels.txt", {q: {"c2": 3, "c5": 2, "c7": 2, "c1": 1} for q, *_ in QUERIES})
    run = {q: [(c, 1.0 - i / 10) for i, c in enumerate(ids)] for q, *_ in QUERIES}
    write_run(tmp_path / "runs/sbert/default.trec", run, tag="sbert")
    llm = {
        **real["llm"],
        **{"model": "shortlister-tests/not-cached", "device": "cpu", "max_new_tokens": 12},
        **{"window": 4, "step": 2, "depth": 6},
        "evaluation": {"datasets": ["default"], "splits": ["test"], "max_queries": 2},
        "adapters_dir": str(tmp_path / "adapters"),  # none trained: zero-shot only
    }
    return {
        "seed": 13,
        "paths": paths,
        "data": {"external": {}},
        "evaluation": real["evaluation"],
        "methods": {"sbert": real["methods"]["sbert"]},
        "rankers": {},
        "embeddings": {"name": "sbert"},
        "llm": llm,
        "tracking": {"experiment": "test", "tracking_uri": None},
    }


def _evaluate(params) -> tuple[dict, str]:
    metrics = evaluate.run(params)
    return metrics, (evaluate.Path(params["paths"]["reports"]) / "comparison.md").read_text()


def test_skipped_without_a_model_and_evaluate_unaffected(params, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = _evaluate(params)
    report = stage.run(params)
    assert report["status"] == "skipped"
    assert "shortlister-tests/not-cached is not a local folder" in report["reason"]
    runs = evaluate.Path(params["paths"]["runs"]) / "llm"
    assert json.loads((runs / "status.json").read_text())["status"] == "skipped"
    assert not list(runs.glob("*.trec"))
    saved = json.loads((evaluate.Path(params["paths"]["reports"]) / "llm.json").read_text())
    assert saved["status"] == "skipped" and saved["reason"] == report["reason"]
    assert _evaluate(params) == before
    assert stage.flat_metrics(report) == {"skipped": 1.0}


def test_ok_with_a_tiny_local_model(params, tiny_qwen):
    params["llm"]["model"] = str(tiny_qwen)  # first_stage ranknet has no run: falls back to sbert
    before, _ = _evaluate(params)
    report = stage.run(params)
    assert report["status"] == "ok" and report["first_stage"] == "sbert"
    entry = report["datasets"]["default"]
    assert entry["query_ids"] == ["q2", "q3"]
    assert set(entry["variants"]) == {"listwise/zero-shot", "pointwise/zero-shot"}
    listwise, pointwise = (
        entry["variants"]["listwise/zero-shot"],
        entry["variants"]["pointwise/zero-shot"],
    )
    assert listwise["n_queries"] == 2 and listwise["n_calls"] == 4  # windows (2,6), (0,4)
    assert 0.0 <= listwise["repair_share"] <= 1.0 and listwise["completion_tokens"] > 0
    assert pointwise["n_pairs"] == 12 and pointwise["repair_share"] is None
    for result in (listwise, pointwise):
        assert {"map", "ndcg@10"} <= set(result["metrics"]) and result["seconds_per_query"] > 0
        assert result["cpu_seconds_per_query"] > 0 and result["tokens_per_s"] > 0
    assert {"map", "ndcg@10"} <= set(entry["first_stage"])
    assert report["run_variant"] == "pointwise/zero-shot"  # llm.scorer, no adapter trained
    assert set(report["per_cpu_second"]["default"]) == set(entry["variants"])
    runs = evaluate.Path(params["paths"]["runs"])
    llm_run, first = read_run(runs / "llm/default.trec"), read_run(runs / "sbert/default.trec")
    assert sorted(llm_run) == ["q2", "q3"]
    for qid, ranked in llm_run.items():
        ids = [c for c, _ in ranked]
        assert sorted(ids[:6]) == sorted(c for c, _ in first[qid][:6])
        assert ids[6:] == [c for c, _ in first[qid][6:]]  # the first stage's tail kept
    assert "<|im_start|>user" in (runs / "llm/prompt_listwise_zero-shot.txt").read_text()
    assert "Candidate headline:" in (runs / "llm/prompt_pointwise_zero-shot.txt").read_text()
    table = (evaluate.Path(params["paths"]["reports"]) / "llm.md").read_text()
    assert "| pointwise/zero-shot |" in table and "| first stage (sbert) |" in table

    after, comparison = _evaluate(params)
    assert set(after["default"]["test"]) == {"sbert", "llm"}
    assert after["default"]["test"]["llm"]["n_queries"] <= 2  # only the re-ranked queries
    assert "llm" not in after["default"]["train"]
    assert after["default"]["test"]["sbert"] == before["default"]["test"]["sbert"]
    assert "llm" in comparison
    flat = stage.flat_metrics(report)
    assert flat["default.listwise.zero-shot.repair_share"] == listwise["repair_share"]
    assert flat["default.pointwise.zero-shot.ndcg@10"] == pointwise["metrics"]["ndcg@10"]


def test_only_the_listed_scorers_run(params, tiny_qwen):
    params["llm"].update(model=str(tiny_qwen), scorer="listwise")
    params["llm"]["evaluation"]["scorers"] = ["listwise"]
    report = stage.run(params)
    assert set(report["datasets"]["default"]["variants"]) == {"listwise/zero-shot"}
    assert report["run_variant"] == "listwise/zero-shot"


def test_main_logs_prompt_timing_and_metrics_to_mlflow(params, tiny_qwen, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    params["llm"]["model"] = str(tiny_qwen)
    params["llm"]["evaluation"]["max_queries"] = 1
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    stage.main()
    client = MlflowClient(tracking_uri=uri)
    [exp] = [e for e in client.search_experiments() if e.name == "test"]
    [run] = client.search_runs([exp.experiment_id], "tags.`shortlister.stage` = 'llm'")
    assert {"default.listwise.zero-shot.repair_share", "default.pointwise.zero-shot.map",
            "default.first_stage.map", "skipped"} <= set(run.data.metrics)  # fmt: skip
    assert run.data.params["model"] == str(tiny_qwen)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "llm")}
    assert {"llm/prompt_pointwise_zero-shot.txt", "llm/llm.json", "llm/llm.md"} <= artifacts


def test_unknown_dataset_is_a_clear_error(params, tiny_qwen):
    params["llm"]["model"] = str(tiny_qwen)
    params["llm"]["evaluation"]["datasets"] = ["nope"]
    with pytest.raises(ValueError, match="llm.evaluation.datasets: unknown"):
        stage.run(params)
