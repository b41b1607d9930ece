"""The CI regression gate: current metrics against committed baselines."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shortlister.core.errors import DataError

# Metrics where higher is better; other numbers (counts, timings) are not gated.
GATED_PREFIXES = ("ndcg@", "map", "mrr", "p@", "recall@")


@dataclass
class Comparison:
    key: str
    baseline: float
    current: float | None

    @property
    def delta(self) -> float | None:
        return None if self.current is None else self.current - self.baseline

    def failed(self, tolerance: float) -> bool:
        return self.current is None or self.current < self.baseline - tolerance


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}/"))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def is_gated(key: str) -> bool:
    leaf = key.rsplit("/", 1)[-1]
    return leaf.startswith(GATED_PREFIXES)


def read_metrics(path: str | Path) -> dict[str, float]:
    path = Path(path)
    if not path.exists():
        raise DataError("metrics file not found (run `dvc repro` first)", path=path)
    try:
        return flatten(json.loads(path.read_text()))
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON ({exc.msg} at line {exc.lineno})", path=path) from exc


def compare(current: Mapping[str, float], baseline: Mapping[str, float]) -> list[Comparison]:
    """Every gated baseline metric, with the current value (None when it is missing)."""
    rows = []
    for key in sorted(k for k in baseline if is_gated(k)):
        value = current.get(key)
        if value is not None and math.isnan(value):
            value = None
        rows.append(Comparison(key, baseline[key], value))
    return rows
