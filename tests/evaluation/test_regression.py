from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from shortlister.cli import main
from shortlister.core.errors import DataError
from shortlister.evaluation.regression import compare, flatten, read_metrics

BASE = {"default": {"test": {"sbert": {"ndcg@10": 0.60, "map": 0.40, "n_queries": 16}}}}


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_flatten_keeps_numbers_only():
    flat = flatten({"a": {"b": 1, "c": "x", "d": True}, "e": 2.5})
    assert flat == {"a/b": 1.0, "e": 2.5}


def test_compare_gates_quality_metrics_only():
    current = flatten(
        {"default": {"test": {"sbert": {"ndcg@10": 0.55, "map": 0.41, "n_queries": 3}}}}
    )
    rows = {r.key: r for r in compare(current, flatten(BASE))}
    assert set(rows) == {"default/test/sbert/ndcg@10", "default/test/sbert/map"}
    assert rows["default/test/sbert/ndcg@10"].failed(0.02)
    assert not rows["default/test/sbert/ndcg@10"].failed(0.06)
    assert not rows["default/test/sbert/map"].failed(0.0)


def test_missing_metric_fails():
    rows = compare({}, flatten(BASE))
    assert all(r.current is None and r.failed(1.0) for r in rows)


def test_read_metrics_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_metrics(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    with pytest.raises(DataError, match="bad.json: not valid JSON"):
        read_metrics(bad)


def test_cli_gate_exit_codes(tmp_path):
    base = _write(tmp_path, "base.json", BASE)
    same = _write(tmp_path, "same.json", BASE)
    worse = _write(
        tmp_path, "worse.json", {"default": {"test": {"sbert": {"ndcg@10": 0.50, "map": 0.40}}}}
    )
    runner = CliRunner()
    ok = runner.invoke(main, ["check-regression", "--current", str(same), "--baseline", str(base)])
    assert ok.exit_code == 0, ok.output
    assert "all 2 metrics within 0.02" in ok.output
    bad = runner.invoke(
        main, ["check-regression", "--current", str(worse), "--baseline", str(base)]
    )
    assert bad.exit_code == 1
    assert "FAIL" in bad.output and "1 of 2 metrics regressed" in bad.output
