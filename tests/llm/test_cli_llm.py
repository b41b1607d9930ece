"""`shortlister rank --method llm` with a tiny random local model (plumbing only)."""

from __future__ import annotations

import csv
import re

import pytest
from click.testing import CliRunner

from shortlister.cli import main
from shortlister.evaluation.trec import read_run

ROWS = [
    ("c1", "Aspiring HR Professional"),
    ("c2", "Native English Teacher at EPIK"),
    ("c3", "Senior HR Manager at Acme"),
    ("c4", "Software Engineer | Python"),
    ("c5", "Seeking Human Resources opportunities"),
    ("c6", "Registered Nurse"),
    ("c7", "Recruiter at Bluepeak"),
]
ROW = re.compile(r"^\s*\d+\s+(c\d+)\s+.*\s-?\d+\.\d{4}$")


@pytest.fixture()
def pool(tmp_path):
    path = tmp_path / "cands.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "title", "location"])
        writer.writerows((cid, title, "Houston, Texas") for cid, title in ROWS)
    return path


def _run(args, cwd):
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=cwd):
        return runner.invoke(main, args, catch_exceptions=False)


def _llm_args(pool, model):
    return ["rank", "--candidates", str(pool), "--method", "llm", "--first-stage", "tfidf",
            "--llm-model", str(model), "--rerank-depth", "5", "--llm-window", "3",
            "--llm-step", "2", "--llm-scorer", "listwise"]  # fmt: skip


def test_one_query(pool, tmp_path, tiny_qwen):
    result = _run([*_llm_args(pool, tiny_qwen), "--query", "human resources", "--top-k", "6"],
                  tmp_path)  # fmt: skip
    assert result.exit_code == 0, result.output
    ids = [m.group(1) for m in map(ROW.match, result.output.splitlines()) if m]
    assert len(ids) == 6 and len(set(ids)) == 6 and set(ids) <= {c for c, _ in ROWS}
    assert "re-ranked the top 5 for 1 query in 2 calls" in result.output
    assert "needed repair" in result.output


def test_pointwise_scores_each_candidate(pool, tmp_path, tiny_gemma):
    args = [a for a in _llm_args(pool, tiny_gemma) if a not in ("--llm-scorer", "listwise")]
    result = _run([*args, "--llm-scorer", "pointwise", "--query", "nurse", "--top-k", "6"],
                  tmp_path)  # fmt: skip
    assert result.exit_code == 0, result.output
    ids = [m.group(1) for m in map(ROW.match, result.output.splitlines()) if m]
    assert len(ids) == 6 and len(set(ids)) == 6 and set(ids) <= {c for c, _ in ROWS}
    assert "llm: pointwise:transformers:" in result.output and "scored the top 5" in result.output


def test_batch(pool, tmp_path, tiny_gemma):
    queries = tmp_path / "q.tsv"
    queries.write_text("query_id\tquery\nq1\thuman resources\nq2\tnurse\n")
    out = tmp_path / "run.trec"
    args = [*_llm_args(pool, tiny_gemma), "--queries", str(queries), "--out", str(out)]
    result = _run([*args, "--top-k", "7"], tmp_path)
    assert result.exit_code == 0, result.output
    run = read_run(out)
    assert sorted(run) == ["q1", "q2"]
    assert all(sorted(c for c, _ in r) == sorted(c for c, _ in ROWS) for r in run.values())


def test_missing_model_is_a_clear_error(pool, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    args = [*_llm_args(pool, "shortlister-tests/not-cached"), "--query", "nurse"]
    result = _run(args, tmp_path)
    assert result.exit_code != 0
    assert (
        "model not available: shortlister-tests/not-cached is not a local folder" in result.output
    )


def test_missing_api_key_is_a_clear_error(pool, tmp_path, monkeypatch):
    for env in ("GROQ_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(env, raising=False)
    args = ["rank", "--candidates", str(pool), "--method", "llm", "--first-stage", "tfidf",
            "--llm-backend", "openai", "--query", "nurse"]  # fmt: skip
    result = _run(args, tmp_path)
    assert result.exit_code != 0 and "GROQ_API_KEY is not set" in result.output


def test_bad_window_names_the_field(pool, tmp_path, tiny_qwen):
    args = [*_llm_args(pool, tiny_qwen), "--llm-step", "3", "--query", "nurse"]
    result = _run(args, tmp_path)
    assert result.exit_code != 0 and "1 <= step < window" in result.output
