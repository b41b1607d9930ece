"""The cross-encoder's knobs (`cross` in params.yaml, conf/cross/*.yaml), validated once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shortlister.core.checks import build, check_choice, check_int, check_number
from shortlister.core.errors import ConfigError

BACKENDS = ("torch", "onnx", "onnx-int8")


@dataclass
class MiningConfig:
    """Negatives (and near positives) mined by the tuned encoder, labelled by the taxonomy."""

    anchors: int = 3000  # source titles whose neighbours are mined (seeded sample)
    top_k: int = 30  # neighbours looked at per anchor
    per_anchor: int = 6  # of those, this many become pairs (seeded, spread over ranks)
    default_top_k: int = 60  # default training queries: the encoder's top-k headlines
    pool: int = 8000  # titles per source encoded to mine among (seeded sample; encoding costs)

    def __post_init__(self) -> None:
        for key in ("anchors", "top_k", "per_anchor", "default_top_k", "pool"):
            check_int(f"cross.mining.{key}", getattr(self, key), minimum=0)


@dataclass
class CrossTrainConfig:
    base_model: str = "all-MiniLM-L6-v2"  # packaged MiniLM, a folder, or `title-encoder`
    max_length: int = 48  # role + headline tokens; headlines are cut, roles are short
    batch_size: int = 32
    lr: float = 4.0e-05
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_steps: int = 500
    max_epochs: float = 1.0
    max_minutes: float | None = 6.0  # wall-time cap: stops and saves
    checkpoint_steps: int = 200
    checkpoint_dir: str | None = ".cache/cross-checkpoints"  # None: no resume
    threads: int | None = None
    max_pairs: int | None = 60_000  # seeded subsample of all training pairs

    def __post_init__(self) -> None:
        for key in ("max_length", "batch_size", "max_steps", "checkpoint_steps"):
            check_int(f"cross.train.{key}", getattr(self, key), minimum=1)
        check_number("cross.train.lr", self.lr, low=0, low_open=True)
        check_number("cross.train.max_epochs", self.max_epochs, low=0, low_open=True)
        check_number("cross.train.warmup_ratio", self.warmup_ratio, low=0, high=1, high_open=True)
        if self.max_minutes is not None:
            check_number("cross.train.max_minutes", self.max_minutes, low=0, low_open=True)
        if self.max_pairs is not None:
            check_int("cross.train.max_pairs", self.max_pairs, minimum=1)


@dataclass
class RerankConfig:
    """How the cross-encoder re-ranks the first stage; the grids are searched on validation."""

    first_stage: str = "sbert-tuned"  # a method key: the run whose top N is re-ranked
    top_n: list[int] = field(default_factory=lambda: [30, 50])
    # score = (1 - w) * z(first stage) + w * z(cross-encoder), z over the query's top N
    weights: list[float] = field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0])
    select_on: str = "validation"  # the default dataset's split the grid is chosen on
    select_metric: str = "map"
    backend: str = "onnx-int8"  # how the pipeline and the service score pairs
    batch_size: int = 256

    def __post_init__(self) -> None:
        if not self.top_n or not self.weights:
            raise ConfigError("cross.rerank.top_n and cross.rerank.weights must not be empty")
        for n in self.top_n:
            check_int("cross.rerank.top_n", n, minimum=1)
        for w in self.weights:
            check_number("cross.rerank.weights", w, low=0, high=1)
        check_choice("cross.rerank.select_on", self.select_on, ("validation", "train"))
        check_choice("cross.rerank.backend", self.backend, BACKENDS)
        check_int("cross.rerank.batch_size", self.batch_size, minimum=1)


@dataclass
class CrossConfig:
    seed: int = 13
    mining: MiningConfig = field(default_factory=MiningConfig)
    train: CrossTrainConfig = field(default_factory=CrossTrainConfig)
    rerank: RerankConfig = field(default_factory=RerankConfig)
    # Labels of a (title, title) pair by its closest relation in the sources' taxonomies
    # (SOC groups, ISCO groups, ESCO broader links); default-data pairs use grade / 3.
    scores: dict[str, float] = field(
        default_factory=lambda: {
            "same": 1.0,
            "linked": 0.7,
            "group1": 0.7,
            "group2": 0.35,
            "group3": 0.1,
            "random": 0.0,
        }
    )
    export_int8: bool = True
    # The service (method cross-encoder): a request waits at most this long for the
    # cross-encoder, and the re-ranked depth is cut at start-up to what fits in half of it.
    serve_budget_ms: float = 250.0

    def __post_init__(self) -> None:
        for name, cls in (
            ("mining", MiningConfig),
            ("train", CrossTrainConfig),
            ("rerank", RerankConfig),
        ):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                setattr(self, name, build(cls, value, f"cross.{name}"))
        levels = {"same", "linked", "group1", "group2", "group3", "random"}
        missing = sorted(levels - set(self.scores))
        if missing:
            raise ConfigError(f"cross.scores: missing {missing}")
        for key, value in self.scores.items():
            check_number(f"cross.scores.{key}", value, low=0, high=1)
        check_number("cross.serve_budget_ms", self.serve_budget_ms, low=0, low_open=True)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> CrossConfig:
        """From ``cross`` in params.yaml; unknown keys are refused."""
        return build(cls, cfg, "cross")
