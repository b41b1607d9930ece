"""What every stage entry point does: logging, params, seeding, an MLflow stage run, and
the stage's wall time (metric `stage_wall_seconds`, reports/timings/<stage>.json)."""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from shortlister.core.errors import ShortlisterError
from shortlister.core.logs import configure_logging
from shortlister.core.outputs import write_text
from shortlister.core.params import load_params

logger = logging.getLogger(__name__)

WALL_METRIC = "stage_wall_seconds"
TIMINGS_DIR = "timings"  # under paths.reports: one <stage run name>.json per stage run


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
    global _pending
    _pending = StageClock.of_process()
    return params


@dataclass
class StageClock:
    """When a stage began (epoch seconds) and the process CPU time it had used by then."""

    started: float = field(default_factory=time.time)
    cpu_before: float = field(default_factory=time.process_time)

    @classmethod
    def of_process(cls) -> StageClock:
        """From the process's start (the stages package import) when it runs a stage module,
        `python -m shortlister.stages.<stage>`; else (a stage's main called in a longer
        process: tests, scripts) from now."""
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        if (getattr(spec, "name", None) or "").startswith("shortlister.stages."):
            from shortlister.stages import IMPORTED_AT

            return cls(IMPORTED_AT, 0.0)
        return cls()

    def timing(self, stage: str) -> dict[str, Any]:
        """The stage's timing record so far (what reports/timings/<stage>.json holds)."""
        finished = time.time()
        return {
            "stage": stage,
            "wall_seconds": round(finished - self.started, 3),
            "cpu_seconds": round(time.process_time() - self.cpu_before, 3),
            "started": _iso(self.started),
            "finished": _iso(finished),
            "cpu_count": cpu_count(),
        }


_pending: StageClock | None = None  # started by start(), taken by the next tracked()
_running: dict[str, StageClock] = {}  # stage run name -> its clock, inside tracked()


def stage_timing(stage: str) -> dict[str, Any]:
    """The timing record so far of `stage`, whose tracked() block is running."""
    return _running[stage].timing(stage)


def timing_path(params: Mapping[str, Any], stage: str) -> Path:
    return Path(params.get("paths", {}).get("reports", "reports")) / TIMINGS_DIR / f"{stage}.json"


def cpu_count() -> int:
    """CPUs this process may run on (a container's or taskset's share), else all."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


@contextmanager
def tracked(
    stage: str,
    params: Mapping[str, Any],
    logged: Mapping[str, Any],
    *,
    timing_file: bool = True,
) -> Iterator[Any]:
    """An MLflow child run for this stage under the pipeline execution's parent run.

    When the block succeeds, the stage's wall time (since `start()`; for
    `python -m shortlister.stages.<stage>`, since the process began, imports included) is
    logged as metric `stage_wall_seconds` and written to reports/timings/<stage>.json,
    a DVC output of the stage that the evaluate stage gathers into reports/timings.json.
    evaluate passes timing_file=False: it depends on that folder, so it puts its own entry
    (`stage_timing`) in reports/timings.json instead.
    """
    from shortlister.stages.tracking import log_metrics, stage_run

    global _pending
    clock, _pending = _pending or StageClock(), None
    tracking = params.get("tracking", {})
    with stage_run(
        stage,
        experiment=tracking.get("experiment", "shortlister"),
        tracking_uri=tracking.get("tracking_uri"),
        params=logged,
    ) as run:
        _running[stage] = clock
        try:
            yield run
        finally:
            del _running[stage]
        timing = clock.timing(stage)
        log_metrics({WALL_METRIC: timing["wall_seconds"]})
        if timing_file:
            write_json(timing_path(params, stage), timing)
        logger.info(
            "%s: %.1f s wall, %.1f s CPU", stage, timing["wall_seconds"], timing["cpu_seconds"]
        )


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
