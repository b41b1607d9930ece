"""What every stage entry point does: logging, params, seeding, an MLflow stage run."""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from shortlister.core.errors import ShortlisterError
from shortlister.core.logs import configure_logging
from shortlister.core.outputs import write_text
from shortlister.core.params import load_params


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    # Seed torch only where a stage already uses it: importing it costs seconds.
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def _one_line_errors(kind, exc, tb) -> None:
    """A stage's user-caused failure (bad data, bad config, an unwritable output) is one
    line on stderr and exit status 1; anything else keeps its traceback for developers."""
    if isinstance(exc, ShortlisterError):
        sys.stderr.write(f"error: {' '.join(str(exc).split())}\n")
        sys.stderr.flush()
        return
    sys.__excepthook__(kind, exc, tb)


def start(argv_params: str | Path = "params.yaml") -> dict[str, Any]:
    sys.excepthook = _one_line_errors
    configure_logging()
    # No network at run time: models come from packages or local folders.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    params = load_params(argv_params)
    seed_everything(int(params.get("seed", 0)))
    return params


@contextmanager
def tracked(stage: str, params: Mapping[str, Any], logged: Mapping[str, Any]) -> Iterator[Any]:
    """An MLflow child run for this stage under the pipeline execution's parent run."""
    from shortlister.stages.tracking import stage_run

    tracking = params.get("tracking", {})
    with stage_run(
        stage,
        experiment=tracking.get("experiment", "shortlister"),
        tracking_uri=tracking.get("tracking_uri"),
        params=logged,
    ) as run:
        yield run


def write_json(path: str | Path, data: Mapping[str, Any]) -> Path:
    """Strict JSON (NaN becomes null), so DVC and other readers can parse it."""
    return write_text(
        path, json.dumps(_nan_to_none(data), indent=2, sort_keys=True, allow_nan=False) + "\n"
    )


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, Mapping):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(v) for v in value]
    return value
