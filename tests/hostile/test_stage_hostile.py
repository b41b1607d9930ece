"""A pipeline stage run as DVC runs it, on hostile input: one `error:` line, exit 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.conftest import fingerprints

PARAMS = """seed: 0
paths: {raw_default: raw, interim: interim, reports: reports}
data: {clean: {}}
tracking: {tracking_uri: "sqlite:///mlflow.db", experiment: hostile}
"""


def _clean_stage(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlflow.db'}"}
    return subprocess.run(
        [sys.executable, "-m", "shortlister.stages.clean"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture()
def stage_dir(tmp_path: Path) -> Path:
    (tmp_path / "raw").mkdir()
    (tmp_path / "params.yaml").write_text(PARAMS)
    return tmp_path


def test_bad_data_is_one_line(stage_dir: Path) -> None:
    (stage_dir / "raw" / "candidates.csv").write_text(
        "id,title,location\n1,Nurse,Rome\n1,Teacher,Oslo\n"
    )
    before = fingerprints(stage_dir / "raw")
    result = _clean_stage(stage_dir)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: raw/candidates.csv, row 2, field 'id': duplicate id '1': first in row 1 "
        "(line 2), again in row 2 (line 3); expected each id once"
    ]
    assert fingerprints(stage_dir / "raw") == before


def test_an_output_linked_to_the_input_is_refused(stage_dir: Path) -> None:
    source = stage_dir / "raw" / "candidates.csv"
    source.write_text("id,title,location\n1,Nurse,Rome\n2,n/a,Oslo\n")
    (stage_dir / "interim").mkdir()
    os.link(source, stage_dir / "interim" / "rejects.csv")
    before = fingerprints(stage_dir / "raw")
    result = _clean_stage(stage_dir)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "error: cannot write the rejects file interim/rejects.csv: it is the candidate file" in (
        result.stderr
    )
    assert fingerprints(stage_dir / "raw") == before
    assert not (stage_dir / "interim" / "candidates.parquet").exists()  # refused before work


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "c.csv"], "cannot write --out c.csv: it is the candidate file"),
        (["--out", "/dev/full"], "cannot write /dev/full: No space left on device"),
    ],
)
def test_the_installed_command_answers_in_one_line(workspace: Path, args, message) -> None:
    """The real `shortlister` process, not click's test runner."""
    before = fingerprints(workspace)
    cmd = [sys.executable, "-m", "shortlister.cli", "rank", "--candidates", "c.csv",
           "--queries", "q.tsv", "--method", "tfidf", *args]  # fmt: skip
    result = subprocess.run(cmd, cwd=workspace, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")] == [
        next(line for line in result.stderr.splitlines() if message in line)
    ]
    assert {k: fingerprints(workspace)[k] for k in before} == before
