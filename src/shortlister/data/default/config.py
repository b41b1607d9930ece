"""The knobs of the default dataset (``data.default`` in params.yaml), validated."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shortlister.core.checks import build, check_int, check_number, is_number
from shortlister.core.errors import ConfigError

SPLITS: tuple[str, ...] = ("train", "validation", "test")


@dataclass
class GenerateConfig:
    """Knobs of the default dataset; validated on construction."""

    seed: int = 13
    n_candidates: int = 6000
    n_queries: int = 80
    split_fractions: Sequence[float] = (0.6, 0.2, 0.2)  # train/validation/test over queries
    min_relevant: int = 5  # a query's occupation needs this many grade-3 candidates
    bad_title_rate: float = 0.004  # rows whose title is missing or a placeholder
    duplicate_rate: float = 0.03  # exact duplicate rows under new ids
    typo_rate: float = 0.03
    missing_score_rate: float = 0.05
    hr_boost: float = 3.0  # HR occupations over-sampled, as in the client's pool

    def __post_init__(self) -> None:
        check_int("seed", self.seed, minimum=0)
        check_int("n_candidates", self.n_candidates, minimum=1)
        check_int("n_queries", self.n_queries, minimum=3)
        check_int("min_relevant", self.min_relevant, minimum=1)
        for name in ("bad_title_rate", "duplicate_rate", "typo_rate", "missing_score_rate"):
            check_number(name, getattr(self, name), low=0, high=1, high_open=True)
        if self.bad_title_rate + self.duplicate_rate >= 0.5:
            raise ConfigError(
                "bad_title_rate + duplicate_rate must be < 0.5 so most rows are real candidates, "
                f"got {self.bad_title_rate} + {self.duplicate_rate}"
            )
        check_number("hr_boost", self.hr_boost, low=0, low_open=True)
        self.split_fractions = _check_fractions(self.split_fractions)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> GenerateConfig:
        """From ``data.default``; unknown keys are refused."""
        return build(cls, cfg, "data.default")


def _check_fractions(value: object) -> tuple[float, float, float]:
    # Hydra hands us a ListConfig; anything list-like with three numbers is fine.
    try:
        fractions = tuple(value)  # type: ignore[arg-type]
    except TypeError:
        fractions = ()
    if len(fractions) != 3 or not all(is_number(f) and f >= 0 for f in fractions):
        raise ConfigError(
            f"split_fractions must be three non-negative numbers (train, validation, test), "
            f"got {value!r}"
        )
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ConfigError(f"split_fractions must sum to 1, got {list(fractions)}")
    return (float(fractions[0]), float(fractions[1]), float(fractions[2]))
