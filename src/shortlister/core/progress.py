"""Progress bars for the pipeline's long loops: tqdm on stderr, redrawn about once a second.

`dvc repro` passes a stage's stderr through to the terminal, so a loop wrapped in
`progress` shows its bar there, as it does when a stage runs by hand.
``SHORTLISTER_NO_PROGRESS=1`` turns these bars off (logs, CI); the loop runs the same.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm

NO_PROGRESS_ENV = "SHORTLISTER_NO_PROGRESS"
MIN_INTERVAL_S = 1.0


def progress_enabled() -> bool:
    """False when ``SHORTLISTER_NO_PROGRESS`` is set to anything but empty, 0, false or no."""
    return os.environ.get(NO_PROGRESS_ENV, "").strip().lower() in ("", "0", "false", "no")


def progress(
    iterable: Iterable[Any] | None = None,
    total: float | None = None,
    desc: str | None = None,
    *,
    unit: str = "it",
    enabled: bool = True,
    **kwargs: Any,
) -> tqdm:
    """A tqdm bar over `iterable` (or updated by hand: ``bar.update(n)``), on stderr.

    Shown also when stderr is not a terminal (a `dvc repro` log), unless `enabled` is
    False or ``SHORTLISTER_NO_PROGRESS`` turns bars off; a disabled bar is a no-op.
    """
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        mininterval=MIN_INTERVAL_S,
        dynamic_ncols=True,
        disable=not (enabled and progress_enabled()),
        **kwargs,
    )
