"""The `finetune` stage: skipped (no base model, CUDA asked for but absent) with its outs
written, and the CPU path (a tiny random Gemma-3) end to end, through the `llm` stage."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from shortlister.core.errors import ConfigError, DataError
from shortlister.core.params import compose
from shortlister.evaluation.trec import write_qrels, write_run
from shortlister.llm.finetune import device
from shortlister.llm.finetune.data import read_examples
from shortlister.stages import finetune as stage

QUERIES = [("q1", "registered nurse", "train"), ("q2", "recruiter", "train"),
           ("q3", "teacher", "validation"), ("q4", "human resources", "test"),
           ("q5", "accountant", "test")]  # fmt: skip


@pytest.fixture()
def params(tmp_path, root) -> dict:
    """A pool of 40, 5 queries over the three splits, an sbert run, the real conf."""
    real = compose(config_dir=root / "conf")
    paths = {k: str(tmp_path / k) for k in ("raw_default", "interim", "runs", "reports")}
    ids = [f"c{i:02d}" for i in range(40)]
    (tmp_path / "interim").mkdir()
    titles = [f"Headline {i}" for i in range(40)]
    pd.DataFrame({"id": ids, "title": titles}).to_parquet(tmp_path / "interim/candidates.parquet")
    raw = tmp_path / "raw_default"
    raw.mkdir()
    lines = ["query_id\tquery\tsplit", *("\t".join(q) for q in QUERIES)]
    (raw / "queries.tsv").write_text("\n".join(lines) + "\n")
    qrels = {q: {ids[j + 3 * n]: 1 + j % 3 for j in range(8)} for n, (q, *_) in enumerate(QUERIES)}
    write_qrels(raw / "qrels.txt", qrels)
    run = {q: [(c, 1.0 - i / 50) for i, c in enumerate(ids)] for q, *_ in QUERIES}
    write_run(tmp_path / "runs/sbert/default.trec", run, tag="sbert")
    finetune = {
        **real["finetune"],
        "data_dir": str(tmp_path / "data/finetune"),
        "output_dir": str(tmp_path / "models/finetune"),
        "prompts_per_query": 3,
    }
    return {
        "seed": 13,
        "paths": paths,
        "evaluation": real["evaluation"],
        "llm": real["llm"],
        "finetune": finetune,
        "tracking": {"experiment": "test", "tracking_uri": None},
    }


def test_cuda_asked_for_but_absent_is_skipped_with_data_and_outs(params, tmp_path, monkeypatch):
    monkeypatch.setattr(device, "cuda_available", lambda: False)  # same answer on a GPU machine
    params["finetune"]["device"] = "cuda"
    report = stage.run(params)

    assert report["status"] == "skipped" and "cuda" in report["reason"]
    assert json.loads((tmp_path / "reports/finetune.json").read_text())["status"] == "skipped"
    assert "skipped" in (tmp_path / "reports/finetune.md").read_text()
    out = tmp_path / "models/finetune"
    assert json.loads((out / "STATUS.json").read_text())["reason"] == report["reason"]
    assert (out / "README.md").is_file() and not list(out.glob("*/adapter_config.json"))
    train = read_examples(tmp_path / "data/finetune/listwise/train.jsonl")
    val = read_examples(tmp_path / "data/finetune/listwise/validation.jsonl")
    assert {r["query_id"] for r in train} == {"q1", "q2"} and len(train) == 6
    assert {r["query_id"] for r in val} == {"q3"}
    pairs = read_examples(tmp_path / "data/finetune/pointwise/train.jsonl")
    assert {r["query_id"] for r in pairs} == {"q1", "q2"}  # never test queries
    assert {r["messages"][-1]["content"] for r in pairs} == {"Yes", "No"}
    assert report["data"]["listwise"]["train"]["n_records"] == 6
    assert json.loads((tmp_path / "data/finetune/stats.json").read_text()) == report["data"]


def test_skipped_when_the_base_model_is_not_local(params, tmp_path):
    params["finetune"].update(device="cpu", base_model="shortlister-tests/not-cached")
    report = stage.run(params)
    assert report["status"] == "skipped"
    assert report["reason"].startswith("base model not available")
    assert "not-cached" in report["reason"]


def test_a_stale_adapter_is_replaced_by_the_status(params, tmp_path):
    adapter = tmp_path / "models/finetune/listwise"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text("{}")
    params["finetune"]["device"] = "cpu"
    params["finetune"]["base_model"] = str(tmp_path / "missing-model")
    stage.run(params)
    assert not (adapter / "adapter_config.json").exists()


def test_missing_first_stage_run_names_the_file(params, tmp_path):
    params["finetune"]["first_stage"] = "bm25"
    with pytest.raises(DataError, match="runs/bm25/default.trec"):
        stage.run(params)


def test_overrides_select_a_group_option_or_set_keys(params):
    stage.apply_overrides(params, ["finetune=tiny", "finetune.max_steps=2", "llm.depth=4"])
    assert (
        params["finetune"]["base_model"] == "tiny:gemma3" and params["finetune"]["device"] == "cpu"
    )
    assert params["finetune"]["max_steps"] == 2 and params["llm"]["depth"] == 4
    with pytest.raises(ConfigError, match="key=value"):
        stage.apply_overrides(params, ["finetune.device"])


def test_cpu_path_trains_both_scorers_and_the_llm_stage_compares_them(params, tmp_path):
    """finetune=tiny: a tiny random Gemma-3, LoRA on CPU for listwise and pointwise; then the
    `llm` stage evaluates zero-shot and tuned side by side on the same test queries."""
    from shortlister.stages import llm as llm_stage

    stage.apply_overrides(params, ["finetune=tiny"])
    params["finetune"].update(
        data_dir=str(tmp_path / "data/finetune"),
        output_dir=str(tmp_path / "models/finetune"),
        max_steps=2,
        pointwise_max_steps=2,
        eval_steps=2,
        candidates_per_prompt=4,
        answer_k=4,
        prompts_per_query=2,
    )
    params["llm"].update(window=4, step=2, depth=6, max_new_tokens=8)
    report = stage.run(params)

    assert report["status"] == "ok", report.get("reason")
    assert set(report["training"]) == {"listwise", "pointwise"}
    for scorer, t in report["training"].items():
        assert t["steps"] == 2 and t["device"] == "cpu" and t["scorer"] == scorer
        assert t["prompt_format"] == "chat"  # the tiny Gemma has a chat template
        adapter = tmp_path / "models/finetune" / scorer
        assert (adapter / "adapter_config.json").is_file()
        assert (adapter / "adapter_model.safetensors").is_file()
    table = (tmp_path / "reports/finetune.md").read_text()
    assert "| listwise | cpu |" in table and "| pointwise | cpu |" in table
    metrics = stage.flat_metrics(report)
    assert metrics["trained"] == 1.0 and "pointwise.tokens_per_second" in metrics

    params["llm"].update(
        model=report["base_model"],  # the tiny model the stage built
        adapters_dir=str(tmp_path / "models/finetune"),
        first_stage="sbert",
        evaluation={"datasets": ["default"], "splits": ["test"], "max_queries": 2},
    )
    params.setdefault("data", {"external": {}})
    llm_report = llm_stage.run(params)
    variants = llm_report["datasets"]["default"]["variants"]
    assert set(variants) == {"listwise/zero-shot", "pointwise/zero-shot",
                             "listwise/tuned", "pointwise/tuned"}  # fmt: skip
    assert variants["pointwise/tuned"]["adapter"].endswith("pointwise")
    assert llm_report["run_variant"] == "pointwise/tuned"
    assert {v["n_queries"] for v in variants.values()} == {2}  # the same queries for all
