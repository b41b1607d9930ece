from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import Run

from shortlister.core.errors import ConfigError
from shortlister.stages import tracking
from shortlister.stages.tracking import (
    DEFAULT_TRACKING_URI,
    PIPELINE_KEY_TAG,
    RUN_KIND_TAG,
    STAGE_TAG,
    child_run,
    flatten_params,
    log_artifact,
    log_metrics,
    metric_key,
    pipeline_key,
    resolve_tracking_uri,
    stage_run,
)

SERVER_START_TIMEOUT_S = 90


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A repo-like folder with params.yaml and dvc.yaml, and a clean MLflow state."""
    for name in ("MLFLOW_TRACKING_URI", "SHORTLISTER_PIPELINE_ID", "MLFLOW_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    # stage_run sets this default; monkeypatch restores the original afterwards
    monkeypatch.delenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", raising=False)
    monkeypatch.chdir(tmp_path)  # sqlite stores put artifacts under ./mlruns
    (tmp_path / "params.yaml").write_text("ranker:\n  k: 10\n")
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    yield tmp_path
    while mlflow.active_run() is not None:
        mlflow.end_run()


def _sqlite_uri(folder: Path) -> str:
    return f"sqlite:///{folder}/mlflow.db"


def _runs_by_name(uri: str, experiment: str = "shortlister") -> dict[str, list[Run]]:
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    runs: dict[str, list[Run]] = {}
    for run in client.search_runs([exp.experiment_id]):
        runs.setdefault(run.info.run_name, []).append(run)
    return runs


def test_resolve_tracking_uri_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri(None) == DEFAULT_TRACKING_URI
    assert resolve_tracking_uri("  ") == DEFAULT_TRACKING_URI
    assert resolve_tracking_uri("http://mlflow:5000") == "http://mlflow:5000"

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///from-env.db")
    assert resolve_tracking_uri("http://mlflow:5000") == "sqlite:///from-env.db"

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    assert resolve_tracking_uri("http://mlflow:5000") == "http://mlflow:5000"


def test_pipeline_key_is_stable_and_tracks_params_and_dvc_yaml(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = pipeline_key(workdir / "params.yaml")
    assert first == pipeline_key(workdir / "params.yaml")
    assert len(first) == 12

    (workdir / "dvc.yaml").write_text("stages: {prepare: {cmd: x}}\n")
    second = pipeline_key(workdir / "params.yaml")
    assert second != first

    (workdir / "params.yaml").write_text("ranker:\n  k: 20\n")
    assert pipeline_key(workdir / "params.yaml") not in (first, second)

    # no git on PATH (or not a repo) must not break key derivation
    monkeypatch.setenv("PATH", "")
    assert pipeline_key("params.yaml") == pipeline_key(workdir / "params.yaml")


def test_pipeline_id_env_wins(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHORTLISTER_PIPELINE_ID", "ci-1234")
    assert pipeline_key() == "ci-1234"

    uri = _sqlite_uri(workdir)
    with stage_run("prepare", tracking_uri=uri) as run:
        assert run.data.tags[PIPELINE_KEY_TAG] == "ci-1234"

    runs = _runs_by_name(uri)
    assert set(runs) == {"pipeline-ci-1234", "prepare"}

    monkeypatch.setenv("SHORTLISTER_PIPELINE_ID", "bad'id")
    with pytest.raises(ConfigError, match="SHORTLISTER_PIPELINE_ID"):
        pipeline_key()


def test_stages_nest_under_one_parent(workdir: Path) -> None:
    uri = _sqlite_uri(workdir)
    report = workdir / "reports" / "metrics.json"
    report.parent.mkdir()
    report.write_text(json.dumps({"map": 0.5}))
    params = {"data": {"seed": 1, "paths": ["a", "b"], "split": {"test": 0.2}}, "name": "x@y"}

    with stage_run("prepare", tracking_uri=uri, params=params, tags={"owner": "ml"}):
        log_metrics({"ndcg@10": 0.5, "map": float("nan"), "p@5": 0.2}, prefix="test")
        log_artifact(report, artifact_path="reports")
        log_artifact(workdir / "missing.json")
    with stage_run("evaluate", tracking_uri=uri):
        log_metrics({"recall@100": 0.9})
        with child_run("tfidf", params={"ngram": [1, 2]}, tags={"method": "tfidf"}) as method:
            assert method is not None
            log_metrics({"ndcg@10": 0.7}, step=1)

    assert mlflow.active_run() is None
    runs = _runs_by_name(uri)
    assert {name: len(found) for name, found in runs.items()} == {
        f"pipeline-{pipeline_key()}": 1,
        "prepare": 1,
        "evaluate": 1,
        "tfidf": 1,
    }
    parent = runs[f"pipeline-{pipeline_key()}"][0]
    prepare, evaluate, tfidf = runs["prepare"][0], runs["evaluate"][0], runs["tfidf"][0]

    assert parent.info.status == "FINISHED"
    assert parent.data.tags[RUN_KIND_TAG] == "pipeline"
    for run, stage in ((prepare, "prepare"), (evaluate, "evaluate")):
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags[PIPELINE_KEY_TAG] == pipeline_key()
        assert run.data.tags[STAGE_TAG] == stage
    assert prepare.data.tags["owner"] == "ml"

    assert prepare.data.params == {
        "data.seed": "1",
        "data.paths": "['a', 'b']",
        "data.split.test": "0.2",
        "name": "x@y",
    }
    assert prepare.data.metrics == {"test_ndcg_at_10": 0.5, "test_p_at_5": 0.2}
    assert evaluate.data.metrics == {"recall_at_100": 0.9}

    assert tfidf.data.tags["mlflow.parentRunId"] == evaluate.info.run_id
    assert tfidf.data.tags[STAGE_TAG] == "evaluate"
    assert tfidf.data.tags[PIPELINE_KEY_TAG] == pipeline_key()
    assert tfidf.data.tags["method"] == "tfidf"
    assert tfidf.data.params == {"ngram": "[1, 2]"}
    assert tfidf.data.metrics == {"ndcg_at_10": 0.7}

    client = MlflowClient(tracking_uri=uri)
    artifacts = [a.path for a in client.list_artifacts(prepare.info.run_id, "reports")]
    assert artifacts == ["reports/metrics.json"]


def test_failed_stage_marks_runs_failed_and_next_stage_reopens_parent(workdir: Path) -> None:
    uri = _sqlite_uri(workdir)

    with pytest.raises(RuntimeError, match="boom"):
        with stage_run("train", tracking_uri=uri):
            raise RuntimeError("boom")
    runs = _runs_by_name(uri)
    parent_name = f"pipeline-{pipeline_key()}"
    assert runs["train"][0].info.status == "FAILED"
    assert runs[parent_name][0].info.status == "FAILED"
    assert mlflow.active_run() is None

    with stage_run("train", tracking_uri=uri):
        pass
    runs = _runs_by_name(uri)
    assert len(runs[parent_name]) == 1
    assert runs[parent_name][0].info.status == "FINISHED"
    assert sorted(r.info.status for r in runs["train"]) == ["FAILED", "FINISHED"]


def test_changed_params_start_a_new_parent(workdir: Path) -> None:
    uri = _sqlite_uri(workdir)
    with stage_run("prepare", tracking_uri=uri):
        pass
    (workdir / "params.yaml").write_text("ranker:\n  k: 99\n")
    with stage_run("prepare", tracking_uri=uri):
        pass

    parents = [name for name in _runs_by_name(uri) if name.startswith("pipeline-")]
    assert len(parents) == 2


def test_env_tracking_uri_wins_over_configured(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_uri = _sqlite_uri(workdir / "env")
    (workdir / "env").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env_uri)

    with stage_run("prepare", tracking_uri=_sqlite_uri(workdir / "configured")):
        log_metrics({"map": 0.1})

    assert not (workdir / "configured").exists()
    assert _runs_by_name(env_uri)["prepare"][0].data.metrics == {"map": 0.1}


def test_helpers_do_nothing_without_an_active_run(workdir: Path) -> None:
    log_metrics({"map": 0.3})
    log_artifact(workdir / "params.yaml")
    with child_run("tfidf", params={"k": 1}) as run:
        assert run is None

    assert mlflow.active_run() is None
    assert not (workdir / "mlflow.db").exists()
    assert not (workdir / "mlruns").exists()


def test_key_helpers() -> None:
    assert metric_key("ndcg@10") == "ndcg_at_10"
    assert metric_key("ndcg@10", prefix="test") == "test_ndcg_at_10"
    assert metric_key("map", prefix="test/") == "test/map"
    assert metric_key("p@5 (strict)") == "p_at_5 _strict_"
    assert flatten_params({"a": {"b": {"c": 1}}, "d": None, "e": [1, {"f": 2}]}) == {
        "a.b.c": "1",
        "d": "None",
        "e": "[1, {'f': 2}]",
    }


def test_long_param_values_are_truncated(workdir: Path) -> None:
    uri = _sqlite_uri(workdir)
    limit = tracking.MAX_PARAM_VAL_LENGTH

    with stage_run("prepare", tracking_uri=uri, params={"prompt": "x" * (limit + 50)}):
        pass

    assert len(_runs_by_name(uri)["prepare"][0].data.params["prompt"]) == limit


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_health(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"mlflow server not healthy after {SERVER_START_TIMEOUT_S}s:\n{log.read_text()}")


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real `mlflow server` on a free local port, artifacts proxied over HTTP."""
    port = _free_port()
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    artifacts = server_dir / "art"
    log = server_dir / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no huey worker processes
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
        "--backend-store-uri", f"sqlite:///{server_dir}/srv.db",
        # no --default-artifact-root: new experiments get mlflow-artifacts:/ (HTTP proxy)
        "--artifacts-destination", str(artifacts),
    ]  # fmt: skip
    with log.open("wb") as out:
        # own session: mlflow server spawns uvicorn, so stop the whole group afterwards
        proc = subprocess.Popen(
            command, cwd=server_dir, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(url, proc, log)
        yield url, artifacts
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def test_stage_run_against_real_server(workdir: Path, mlflow_server: tuple[str, Path]) -> None:
    url, artifact_root = mlflow_server
    report = workdir / "metrics.json"
    report.write_text(json.dumps({"ndcg@10": 0.75}))

    with stage_run("evaluate", tracking_uri=url, params={"ranker": {"k": 10}}) as run:
        run_id = run.info.run_id
        log_metrics({"ndcg@10": 0.75, "map": 0.5}, prefix="test")
        log_artifact(report, artifact_path="reports")
    # the parent is found again through the REST search API
    with stage_run("report", tracking_uri=url) as second:
        second_parent_id = second.data.tags["mlflow.parentRunId"]

    client = MlflowClient(tracking_uri=url)
    stored = client.get_run(run_id)
    assert stored.data.tags["mlflow.parentRunId"] == second_parent_id
    assert stored.info.status == "FINISHED"
    assert stored.data.params == {"ranker.k": "10"}
    assert stored.data.metrics == {"test_ndcg_at_10": 0.75, "test_map": 0.5}
    parent = client.get_run(stored.data.tags["mlflow.parentRunId"])
    assert parent.info.run_name == f"pipeline-{pipeline_key()}"
    assert parent.info.status == "FINISHED"
    assert stored.info.artifact_uri.startswith("mlflow-artifacts:")

    downloaded = client.download_artifacts(run_id, "reports/metrics.json", str(workdir / "dl"))
    assert json.loads(Path(downloaded).read_text()) == {"ndcg@10": 0.75}
    # the bytes went through the server into its --artifacts-destination
    assert list(artifact_root.rglob("metrics.json"))
