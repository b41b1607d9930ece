"""A learned ranker's configuration: model and training knobs, and the features it uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from shortlister.core.checks import build, check_choice, check_int, check_number
from shortlister.core.errors import ConfigError
from shortlister.ranking.features import FeatureConfig

LOSSES = ("ranknet", "lambdarank")


@dataclass
class LtrConfig:
    """Model and training knobs of one ranker (conf/ranker/<name>.yaml minus features)."""

    name: str = "ranknet"
    loss: str = "ranknet"
    hidden_sizes: list[int] = field(default_factory=lambda: [64, 32])
    dropout: float = 0.1
    linear_skip: bool = True  # a linear term next to the MLP: the cosine-like baseline is easy
    lr: float = 1e-3
    weight_decay: float = 1e-4
    epochs: int = 60
    patience: int = 10  # epochs without a better validation NDCG before stopping
    batch_queries: int = 8  # lists per optimiser step
    sigma: float = 1.0  # RankNet's sigmoid steepness
    lambda_k: int | None = 10  # LambdaRank's |ΔNDCG@k|; None: the whole list
    # Start from a known-good ranking instead of a random one: initial weights of the
    # linear term on named (standardised) features, the MLP's output layer at zero.
    init_weights: dict[str, float] = field(default_factory=dict)
    eval_k: int = 10  # early stopping on validation NDCG@eval_k
    seed: int = 13
    threads: int = 1  # fixed thread count: same config, same numbers

    def __post_init__(self) -> None:
        check_choice("ranker.loss", self.loss, LOSSES)
        for i, size in enumerate(self.hidden_sizes):
            check_int(f"ranker.hidden_sizes[{i}]", size, minimum=1)
        check_number("ranker.dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        for knob in ("epochs", "batch_queries", "threads", "eval_k"):
            check_int(f"ranker.{knob}", getattr(self, knob), minimum=1)
        check_number("ranker.lr", self.lr, low=0.0, low_open=True)
        check_number("ranker.weight_decay", self.weight_decay, low=0.0)
        check_int("ranker.patience", self.patience, minimum=0)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> LtrConfig:
        """The model/training keys only (see `RankerConfig.from_config` for a whole
        `rankers.<name>` mapping, features included)."""
        return build(cls, cfg, "ranker")


class RankerConfig(NamedTuple):
    """A `rankers.<name>` mapping in two: ``ltr, features = RankerConfig.from_config(cfg)``."""

    ltr: LtrConfig
    features: FeatureConfig

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> RankerConfig:
        """The feature keys (``bm25: {k1, b, stem}`` as ``bm25_*``) go to FeatureConfig,
        the rest to LtrConfig; a key neither knows is refused, naming both's keys."""
        cfg = dict(cfg)
        bm25 = cfg.pop("bm25", None) or {}
        feat = {k: cfg.pop(k) for k in list(cfg) if k in FeatureConfig.__dataclass_fields__}
        feat.update({f"bm25_{k}": v for k, v in bm25.items()})
        unknown = sorted(set(cfg) - set(LtrConfig.__dataclass_fields__))
        if unknown:
            raise ConfigError(
                f"ranker: unknown option(s) {unknown}; expected some of "
                f"{sorted({*LtrConfig.__dataclass_fields__, *FeatureConfig.__dataclass_fields__})}"
            )
        return cls(LtrConfig(**cfg), FeatureConfig(**feat))
