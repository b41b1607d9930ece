"""Stage wall times: each stage's reports/timings/<run>.json and MLflow metric, evaluate's
reports/timings.json, and the dvc.yaml outputs that let DVC order and track them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from shortlister.core.params import load_params
from shortlister.stages.common import TIMINGS_DIR, WALL_METRIC
from shortlister.stages.timings import aggregate_timings, read_timings, write_timings

ROOT = Path(__file__).resolve().parents[1]
RECORD_KEYS = {"stage", "wall_seconds", "cpu_seconds", "started", "finished", "cpu_count"}


def test_a_real_stage_run_writes_its_timing_file_and_metric(tmp_path, root):
    from mlflow import MlflowClient

    params = load_params(root / "params.yaml")
    params["data"]["default"].update(n_candidates=1200, n_queries=20)  # as conf/data/small
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "SHORTLISTER_PIPELINE_ID": "timings-test"}
    before = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "shortlister.stages.build_default"],
        cwd=tmp_path,
        env={**env, "SHORTLISTER_NO_PROGRESS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    after = time.time()
    assert proc.returncode == 0, proc.stderr[-3000:]

    record = json.loads((tmp_path / "reports" / TIMINGS_DIR / "build_default.json").read_text())
    assert set(record) == RECORD_KEYS
    assert record["stage"] == "build_default"
    started, finished = (_epoch(record[k]) for k in ("started", "finished"))
    assert before - 0.001 <= started < finished <= after  # ISO times are cut to milliseconds
    assert record["wall_seconds"] > 0
    assert record["wall_seconds"] == pytest.approx(finished - started, abs=0.003)
    assert record["cpu_seconds"] > 0 and record["cpu_count"] >= 1

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(params["tracking"]["experiment"])
    [run] = client.search_runs(
        [experiment.experiment_id],
        "tags.`shortlister.stage` = 'build_default' AND tags.`shortlister.run_kind` = 'stage'",
    )
    assert run.data.metrics[WALL_METRIC] == record["wall_seconds"]
    # The clock starts with the process, so the imports before the MLflow run count too.
    assert started < run.info.start_time / 1000


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _record(stage: str, wall: float, started: str) -> dict:
    return {
        "stage": stage,
        "wall_seconds": wall,
        "cpu_seconds": round(wall / 2, 3),
        "started": started,
        "finished": started,  # not read by the aggregation
        "cpu_count": 2,
    }


def test_evaluate_gathers_the_stage_files_in_the_order_they_ran(tmp_path):
    reports = tmp_path / "reports"
    folder = reports / TIMINGS_DIR
    folder.mkdir(parents=True)
    records = [  # by name, external would come after embed-sbert; it ran before
        _record("rank-sbert", 12.5, "2026-01-01T10:04:00.000+00:00"),
        _record("build_default", 3.25, "2026-01-01T10:00:00.000+00:00"),
        _record("embed-sbert", 200.0, "2026-01-01T10:00:30.000+00:00"),
        _record("clean", 1.5, "2026-01-01T10:00:05.000+00:00"),
        _record("external", 2.0, "2026-01-01T10:00:08.500+00:00"),
    ]
    for r in records:
        (folder / f"{r['stage']}.json").write_text(json.dumps(r))
    (folder / "notes.json").write_text('{"hello": 1}')  # not a record: left out
    (folder / "broken.json").write_text("{")  # unreadable: left out
    (folder / "README.md").write_text("not json")  # not *.json: not read
    own = _record("evaluate", 4.0, "2026-01-01T10:05:00.000+00:00")

    summary = write_timings(reports, own)

    order = ["build_default", "clean", "external", "embed-sbert", "rank-sbert", "evaluate"]
    assert [r["stage"] for r in summary["stages"]] == order
    assert summary["wall_seconds"] == {
        "build_default": 3.25,
        "clean": 1.5,
        "external": 2.0,
        "embed-sbert": 200.0,
        "rank-sbert": 12.5,
        "evaluate": 4.0,
    }
    assert summary["total_wall_seconds"] == pytest.approx(223.25)
    assert summary["n_stages"] == 6
    assert summary["stages"][-1] == own and summary["stages"][0] == records[1]

    written = json.loads((reports / "timings.json").read_text())
    assert set(written) == {"stages", "wall_seconds", "total_wall_seconds", "n_stages"}
    assert written == summary
    table = (reports / "timings.md").read_text().splitlines()
    rows = [line for line in table if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == order
    assert rows[3].startswith("| `embed-sbert` | 200.0 | 89.6% | 100.0 | 2 | 2026-01-01 10:00:30 |")
    assert table[-1] == "| **total** (6 stages) | 223.2 | 100% | | | |"


def test_one_record_per_stage_the_latest_and_evaluate_is_its_own(tmp_path):
    records = [
        _record("embed-sbert", 50.0, "2026-01-01T09:00:00.000+00:00"),
        _record("embed-sbert", 60.0, "2026-01-02T09:00:00.000+00:00"),
        _record("evaluate", 99.0, "2026-01-01T08:00:00.000+00:00"),  # an old file of its own
        _record("clean", 1.0, "2026-01-01T12:00:00"),  # naive: taken as UTC
    ]
    summary = aggregate_timings(records, own=_record("evaluate", 5.0, "2026-01-03T00:00:00Z"))
    assert [r["stage"] for r in summary["stages"]] == ["clean", "embed-sbert", "evaluate"]
    assert summary["wall_seconds"] == {"clean": 1.0, "embed-sbert": 60.0, "evaluate": 5.0}
    assert summary["total_wall_seconds"] == 66.0
    assert read_timings(Path("/nonexistent-timings-folder")) == []
    assert aggregate_timings([])["n_stages"] == 0


def _outs(items: list) -> dict[str, dict]:
    """dvc.yaml out entries: path -> its options ({} for a plain path)."""
    return {
        (next(iter(o)) if isinstance(o, dict) else o): (next(iter(o.values())) or {})
        if isinstance(o, dict)
        else {}
        for o in items
    }


def test_every_stage_declares_its_timing_file_and_evaluate_gathers_them():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    missing = []
    for name, stage in stages.items():
        if name == "evaluate":
            continue
        body = stage.get("do", stage)
        if "foreach" in stage:  # the stage module's run name: <stage>-<method or name>
            var = "${item}" if "${item}" in body["cmd"] else "${key}"
            expected = f"${{paths.reports}}/{TIMINGS_DIR}/{name}-{var}.json"
            run_name = f'f"{name}-{{'
        else:
            expected = f"${{paths.reports}}/{TIMINGS_DIR}/{name}.json"
            run_name = f'"{name}"'
        outs = _outs(body.get("outs", []))
        if outs.get(expected) != {"cache": False}:
            missing.append(f"{name}: outs needs `- {expected}:` with `cache: false`")
        module = ROOT / "src" / "shortlister" / "stages" / f"{name}.py"
        assert run_name in module.read_text(), f"{module}: tracked() run name is not {run_name}"
    assert not missing, "\n".join(missing)

    evaluate = stages["evaluate"]
    assert f"${{paths.reports}}/{TIMINGS_DIR}" in evaluate["deps"]
    assert _outs(evaluate["metrics"])["${paths.reports}/timings.json"] == {"cache": False}
    assert _outs(evaluate["outs"])["${paths.reports}/timings.md"] == {"cache": False}
    # evaluate writes nothing into the folder it depends on (DVC: a cycle)
    assert not any(TIMINGS_DIR + "/" in p for p in _outs(evaluate["outs"]))
