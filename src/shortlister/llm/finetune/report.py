"""What a fine-tuning run reports: the losses, the loss curve and the parameter counts.

The validation loss comes from the trainer's evaluation on the held-out records; ranking
quality (NDCG, MAP) of a tuned model is the `llm` stage's job, with the metrics module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def eval_loss(trainer: Any, has_eval: bool) -> float:
    """The validation loss after training (NaN without validation records)."""
    return float(trainer.evaluate()["eval_loss"]) if has_eval else math.nan


def parameter_counts(model: Any) -> tuple[int, int]:
    """(trainable, total) parameters."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return int(trainable), int(total)


def last_logged(history: Sequence[Mapping[str, Any]], key: str) -> float:
    """The last value of `key` in the trainer's log history (NaN when never logged)."""
    values = [h[key] for h in history if key in h]
    return float(values[-1]) if values else math.nan


def loss_curve(history: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
    """[{step, loss | eval_loss}] from the trainer's log history."""
    points = []
    for h in history:
        for key in ("loss", "eval_loss"):
            if key in h and "step" in h:
                points.append({"step": int(h["step"]), key: float(h[key])})
    return points


def throughput(tokens: int, seconds: float) -> dict[str, Any]:
    """Training time and tokens per second."""
    return {
        "train_seconds": round(seconds, 3),
        "train_minutes": round(seconds / 60, 2),
        "tokens_seen": tokens,
        "tokens_per_second": round(tokens / seconds, 1) if seconds > 0 else math.nan,
    }
