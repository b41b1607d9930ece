"""Config validation, once: the checks every config dataclass runs in `__post_init__`.

Each raises :class:`ConfigError` naming the key (``encoder.epochs``), what was expected
and what came, so a typo in ``params.yaml`` or on the command line reads as one line.
Every config class in shortlister builds from a mapping with ``from_config`` (see
:func:`build`), so unknown keys are refused the same way everywhere.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping
from typing import Any, TypeVar

from shortlister.core.errors import ConfigError

T = TypeVar("T")


def is_number(value: object) -> bool:
    """A finite int or float; bool is an int subclass but `lr: true` is a mistake, not 1."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_int(name: str, value: object, *, minimum: int = 0) -> int:
    """`value` as an int >= `minimum`; `epochs: true` in YAML is refused, not read as 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_number(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """`value` as a finite number within [low, high] (an open end excludes the bound)."""
    ok = is_number(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low  # type: ignore[operator]
    if ok and high is not None:
        ok = value < high if high_open else value <= high  # type: ignore[operator]
    if not ok:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo, hi = ("-inf" if low is None else low), ("inf" if high is None else high)
        span = f" in {left}{lo}, {hi}{right}"
        raise ConfigError(f"{name} must be a number{span}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_choice(name: str, value: object, choices: Collection[str]) -> str:
    """`value` as one of `choices`."""
    if value not in choices:
        raise ConfigError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value  # type: ignore[return-value]


def build(cls: type[T], cfg: Mapping[str, Any] | None, where: str) -> T:
    """`cls(**cfg)` for a dataclass, refusing keys it does not have, named under `where`."""
    cfg = dict(cfg or {})
    known = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(cfg) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; expected some of {sorted(known)}")
    return cls(**cfg)
