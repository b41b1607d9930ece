"""RankNet's pairwise loss: log(1 + e^-σ(s_i - s_j)) over the pairs y_i > y_j of each list."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def pair_mask(labels: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B, L, L) bool: pair (i, j) counts when both are real candidates and y_i > y_j."""
    both = valid[:, :, None] & valid[:, None, :]
    return (labels[:, :, None] > labels[:, None, :]) & both


def ranknet_loss(
    scores: torch.Tensor,
    labels: torch.Tensor,
    valid: torch.Tensor,
    sigma: float = 1.0,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean over lists of the (weighted) mean over pairs y_i > y_j of log(1 + e^-σ(s_i - s_j)).

    scores, labels, valid: (B, L); weights: optional (B, L, L), e.g. |ΔNDCG|. Lists
    without a single ordered pair are left out of the mean.
    """
    diff = scores[:, :, None] - scores[:, None, :]
    pairs = pair_mask(labels, valid)
    w = pairs.to(scores.dtype) if weights is None else weights.detach() * pairs
    per_pair = F.softplus(-sigma * diff)  # = -log sigmoid(σ diff), stable for large |diff|
    total_w = w.sum(dim=(1, 2))
    has_pairs = total_w > 0
    if not bool(has_pairs.any()):
        return scores.sum() * 0.0
    per_list = (per_pair * w).sum(dim=(1, 2))[has_pairs] / total_w[has_pairs]
    return per_list.mean()
