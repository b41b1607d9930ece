"""MLflow tracking, grouped per pipeline execution.

Every DVC stage opens :func:`stage_run`. The stages of one ``dvc repro`` share a
*pipeline key* (:func:`pipeline_key`), and each stage becomes a nested run under one
parent run tagged with that key, so ``mlflow ui`` shows an execution as one tree::

    pipeline-<key>                 (parent; FINISHED between stages)
      ├── prepare                  (stage run)
      └── evaluate                 (stage run)
            ├── tfidf              (child_run, one per ranking method)
            └── sbert

Tracking is opt-in: outside an active run, :func:`child_run`, :func:`log_metrics` and
:func:`log_artifact` do nothing, so the pure ``run(cfg)`` functions stay usable from
the CLI, the service and tests without writing an ``mlflow.db``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.utils.validation import MAX_ENTITY_KEY_LENGTH, MAX_PARAM_VAL_LENGTH

from shortlister.core.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
PIPELINE_ID_ENV = "SHORTLISTER_PIPELINE_ID"
PIPELINE_KEY_TAG = "shortlister.pipeline_key"
STAGE_TAG = "shortlister.stage"
# Children carry the pipeline key too, so the parent is found by this tag, not the key alone.
RUN_KIND_TAG = "shortlister.run_kind"

_KEY_LENGTH = 12
_VALID_PIPELINE_ID = re.compile(r"^[\w.:-]{1,200}$")
# MLflow accepts alphanumerics, _ - . / space (and ':' off Windows) in metric/param keys.
_INVALID_KEY_CHARS = re.compile(r"[^\w./ -]")


def resolve_tracking_uri(configured: str | None) -> str:
    """The tracking URI: env ``MLFLOW_TRACKING_URI``, else ``configured``, else the default."""
    for candidate in (os.environ.get("MLFLOW_TRACKING_URI"), configured):
        if candidate and candidate.strip():
            return candidate.strip()
    return DEFAULT_TRACKING_URI


def pipeline_key(params_path: str | Path = "params.yaml") -> str:
    """A key shared by the stages of one pipeline execution.

    ``SHORTLISTER_PIPELINE_ID`` wins when set. Otherwise a short sha256 of the params
    file, the git HEAD commit (when available) and the ``dvc.yaml`` next to the params
    file: none of these change during one ``dvc repro``, so all its stages agree.
    """
    configured = os.environ.get(PIPELINE_ID_ENV, "").strip()
    if configured:
        if not _VALID_PIPELINE_ID.match(configured):
            raise ConfigError(
                f"{PIPELINE_ID_ENV} must be 1-200 letters, digits or '_.:-', got {configured!r}"
            )
        return configured
    params_path = Path(params_path)
    digest = hashlib.sha256()
    for part in (
        _read_bytes(params_path),
        _git_head(params_path.parent),
        _read_bytes(params_path.parent / "dvc.yaml"),
    ):
        # Length prefix: moving bytes between parts must change the key.
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:_KEY_LENGTH]


@contextmanager
def stage_run(
    stage: str,
    *,
    experiment: str = "shortlister",
    tracking_uri: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    params_path: str | Path = "params.yaml",
) -> Iterator[mlflow.ActiveRun]:
    """Open the MLflow run of one pipeline stage, nested under its pipeline's parent run.

    The parent (run name ``pipeline-<key>``) is created on first use and reopened by
    later stages; it is ended after every stage (FINISHED, or FAILED when the stage
    raised) so no run stays RUNNING after the process exits. Yields the stage run.
    """
    _quiet_mlflow()
    uri = resolve_tracking_uri(tracking_uri)
    mlflow.set_tracking_uri(uri)
    experiment_id = mlflow.set_experiment(experiment).experiment_id
    key = pipeline_key(params_path)
    stage_tags = {
        **_str_values(tags),
        PIPELINE_KEY_TAG: key,
        STAGE_TAG: stage,
        RUN_KIND_TAG: "stage",
    }
    with _open_parent(experiment_id, key) as parent:
        with mlflow.start_run(run_name=stage, nested=True, tags=stage_tags) as run:
            logger.info(
                "Tracking stage '%s' as MLflow run %s (pipeline %s, parent %s) at %s",
                stage,
                run.info.run_id,
                key,
                parent.info.run_id,
                _redact(uri),
            )
            if params:
                _log_params(params)
            yield run


@contextmanager
def child_run(
    name: str,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
) -> Iterator[mlflow.ActiveRun | None]:
    """A further nested run inside the current one, e.g. one per ranking method.

    Inherits the pipeline key and stage tags. Yields ``None`` (and tracks nothing) when
    no run is active.
    """
    current = mlflow.active_run()
    if current is None:
        logger.debug("No active MLflow run; not tracking child run '%s'", name)
        yield None
        return
    inherited = {k: v for k, v in current.data.tags.items() if k in (PIPELINE_KEY_TAG, STAGE_TAG)}
    run_tags = {**_str_values(tags), **inherited, RUN_KIND_TAG: "child"}
    with mlflow.start_run(run_name=name, nested=True, tags=run_tags) as run:
        if params:
            _log_params(params)
        yield run


def log_metrics(metrics: Mapping[str, float], prefix: str = "", step: int | None = None) -> None:
    """Log metrics to the active run with MLflow-safe keys (``ndcg@10`` -> ``ndcg_at_10``).

    A ``prefix`` without a trailing separator is joined with ``_`` (``test`` ->
    ``test_map``); ``test/`` is used as given. NaN values are skipped.
    """
    if mlflow.active_run() is None:
        logger.debug("No active MLflow run; not logging %d metrics", len(metrics))
        return
    clean: dict[str, float] = {}
    for key, value in metrics.items():
        value = float(value)
        if math.isnan(value):
            logger.debug("Skipping NaN metric '%s'", key)
            continue
        clean[metric_key(key, prefix)] = value
    if clean:
        mlflow.log_metrics(clean, step=step)


def log_artifact(path: str | Path, artifact_path: str | None = None) -> None:
    """Log a file (or a directory's contents) to the active run; warn and skip if missing."""
    if mlflow.active_run() is None:
        logger.debug("No active MLflow run; not logging artifact %s", path)
        return
    path = Path(path)
    if not path.exists():
        logger.warning("Artifact %s does not exist; not logging it to MLflow", path)
        return
    if path.is_dir():
        mlflow.log_artifacts(str(path), artifact_path)
    else:
        mlflow.log_artifact(str(path), artifact_path)


def metric_key(name: str, prefix: str = "") -> str:
    """The MLflow key for a metric name: '@' -> '_at_', other invalid characters -> '_'."""
    if prefix and not prefix.endswith(("/", "_", ".", "-")):
        prefix = f"{prefix}_"
    return _sanitise_key(f"{prefix}{name}".replace("@", "_at_"))


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten nested mappings to ``a.b.c`` keys; other values (lists too) become strings."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten_params(value, name))
        else:
            flat[name] = str(value)
    return flat


def _log_params(params: Mapping[str, Any]) -> None:
    clean: dict[str, str] = {}
    for key, value in flatten_params(params).items():
        safe_key = _sanitise_key(key)
        if len(safe_key) > MAX_ENTITY_KEY_LENGTH:
            logger.warning(
                "Param key longer than %d characters skipped: %s", MAX_ENTITY_KEY_LENGTH, key
            )
            continue
        if len(value) > MAX_PARAM_VAL_LENGTH:
            logger.debug("Param '%s' truncated to %d characters", key, MAX_PARAM_VAL_LENGTH)
        clean[safe_key] = value[:MAX_PARAM_VAL_LENGTH]
    mlflow.log_params(clean)


@contextmanager
def _open_parent(experiment_id: str, key: str) -> Iterator[mlflow.ActiveRun]:
    runs = MlflowClient().search_runs(
        [experiment_id],
        filter_string=f"tags.`{PIPELINE_KEY_TAG}` = '{key}' AND tags.`{RUN_KIND_TAG}` = 'pipeline'",
        # Should two stages ever race to create the parent, all later ones pick the oldest.
        order_by=["attributes.start_time ASC"],
        max_results=1,
    )
    if runs:
        # Resuming sets the run back to RUNNING until this stage ends.
        parent = mlflow.start_run(run_id=runs[0].info.run_id)
    else:
        parent = mlflow.start_run(
            run_name=f"pipeline-{key}", tags={PIPELINE_KEY_TAG: key, RUN_KIND_TAG: "pipeline"}
        )
    with parent:
        yield parent


def _quiet_mlflow() -> None:
    # MLflow logs schema migrations and experiment creation at INFO on its own handler,
    # which clutters `dvc repro`; an explicit MLFLOW_LOGGING_LEVEL still wins.
    if "MLFLOW_LOGGING_LEVEL" not in os.environ:
        logging.getLogger("mlflow").setLevel(logging.WARNING)
    # Otherwise every ended run writes two "View run" lines to stdout for HTTP stores.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


def _sanitise_key(key: str) -> str:
    return _INVALID_KEY_CHARS.sub("_", key)


def _str_values(tags: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (tags or {}).items()}


def _redact(uri: str) -> str:
    # Keep credentials in http://user:pass@host URIs out of the logs.
    return re.sub(r"//[^/@]+@", "//***@", uri)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        logger.debug("%s not readable; left out of the pipeline key", path)
        return b""


def _git_head(cwd: Path) -> bytes:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        logger.debug("git not available; HEAD left out of the pipeline key")
        return b""
    return result.stdout.strip() if result.returncode == 0 else b""
