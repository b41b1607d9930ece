"""Run the real DVC pipeline in a throw-away copy of the project.

Used by the pipeline smoke test and the CI regression gate, so neither touches the
working tree's outputs, DVC cache or MLflow store.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from shortlister.core.params import compose, load_params, write_params

logger = logging.getLogger(__name__)

GIT_ENV = {
    "GIT_AUTHOR_NAME": "shortlister",
    "GIT_AUTHOR_EMAIL": "shortlister@localhost",
    "GIT_COMMITTER_NAME": "shortlister",
    "GIT_COMMITTER_EMAIL": "shortlister@localhost",
}


def project_files(root: Path) -> list[str]:
    """Tracked and untracked-but-not-ignored files: what a fresh clone would have."""
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return sorted(f for f in out.split("\0") if f and (root / f).is_file())


def copy_project(root: Path, dest: Path) -> Path:
    """Copy the project into `dest` as a fresh one-commit git repository."""
    root, dest = Path(root).resolve(), Path(dest)
    for rel in project_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)
    env = {**os.environ, **GIT_ENV}
    for cmd in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "sandbox copy"],
    ):
        subprocess.run(cmd, cwd=dest, check=True, env=env, capture_output=True)
    return dest


def outside_path_overrides(root: Path, params: Mapping, prefix: str = "") -> list[str]:
    """Params naming files outside the project (../shared/...) are made absolute for the copy."""
    overrides = []
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            overrides.extend(outside_path_overrides(root, value, f"{name}."))
        elif isinstance(value, str) and value.startswith("../"):
            overrides.append(f"{name}={(root / value).resolve()}")
    return overrides


def pipeline_env(workdir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    # Output is captured: no progress bars (core/progress.py) unless the caller's env asks.
    env = {"SHORTLISTER_NO_PROGRESS": "1", **os.environ, **GIT_ENV}
    env.update({"HF_HUB_OFFLINE": "1", "DVC_NO_ANALYTICS": "1"})
    # Stage commands say `python`: make it this interpreter (the project's venv).
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    env.update(extra or {})
    return env


def run_pipeline(
    root: Path,
    workdir: Path,
    overrides: Sequence[str] = (),
    *,
    use_exp: bool = False,
    env: Mapping[str, str] | None = None,
    timeout: float = 1800,
) -> subprocess.CompletedProcess:
    """Copy `root` to `workdir` and run the pipeline there with Hydra overrides.

    use_exp=True goes through `dvc exp run -S ...` (DVC composes conf/ itself);
    otherwise params.yaml is composed here and `dvc repro` runs.
    """
    root = Path(root).resolve()
    copy_project(root, workdir)
    overrides = [*overrides, *outside_path_overrides(root, load_params(root / "params.yaml"))]
    dvc = [sys.executable, "-m", "dvc"]
    if use_exp:
        cmd = [*dvc, "exp", "run", *[a for o in overrides for a in ("-S", o)]]
    else:
        write_params(compose(overrides, config_dir=workdir / "conf"), workdir / "params.yaml")
        cmd = [*dvc, "repro"]
    logger.info("running %s in %s", " ".join(cmd), workdir)
    return subprocess.run(
        cmd,
        cwd=workdir,
        env=pipeline_env(workdir, env),
        text=True,
        capture_output=True,
        timeout=timeout,
    )
