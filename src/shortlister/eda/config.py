"""The knobs of the EDA report (``eda:`` in params.yaml), validated on construction."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shortlister.core.checks import build, check_int
from shortlister.core.errors import ConfigError

_DATASET_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")

PACKAGED_TOPOJSON = "package"


def packaged_topojson() -> str:
    """Path of the world outlines shipped in the package (see eda/data/NOTICE.md)."""
    return str(Path(__file__).resolve().parent / "data" / "world_110m.json")


@dataclass
class EdaConfig:
    """Knobs of the EDA report (``eda:`` in params.yaml); validated on construction."""

    # Extra candidate files to report on, by name; "default" (the pipeline's own cleaned
    # table) is always reported and so cannot be used as a name here.
    datasets: dict[str, str] = field(default_factory=dict)
    top_n_locations: int = 12
    stopwords_extra: list[str] = field(default_factory=list)
    max_words: int = 100
    # "package": the copy of plotly's world_110m.json shipped with shortlister (offline).
    # Or a local copy, or an http(s) folder holding it; None: plotly's CDN (needs network).
    topojson: str | None = PACKAGED_TOPOJSON

    def __post_init__(self) -> None:
        if not isinstance(self.datasets, Mapping):
            raise ConfigError(f"eda.datasets must map a name to a file path, got {self.datasets!r}")
        for name, path in self.datasets.items():
            if not (isinstance(name, str) and _DATASET_NAME.match(name)) or name == "default":
                raise ConfigError(
                    f"eda.datasets name {name!r} must be letters, digits or '_.-' and not "
                    "'default' (the pipeline's own table is always reported)"
                )
            if not (isinstance(path, str) and path.strip()):
                raise ConfigError(f"eda.datasets.{name} must be a file path, got {path!r}")
        for name in ("top_n_locations", "max_words"):
            check_int(f"eda.{name}", getattr(self, name), minimum=1)
        words = self.stopwords_extra
        if isinstance(words, str) or not all(isinstance(w, str) for w in words):
            raise ConfigError(f"eda.stopwords_extra must be a list of words, got {words!r}")
        if self.topojson is not None and not (
            isinstance(self.topojson, str) and self.topojson.strip()
        ):
            raise ConfigError(f"eda.topojson must be a path, a URL or null, got {self.topojson!r}")
        if self.topojson == PACKAGED_TOPOJSON:
            self.topojson = packaged_topojson()

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> EdaConfig:
        """From `eda.*` (unknown keys are an error, so typos do not pass silently)."""
        return build(cls, cfg, "eda")
