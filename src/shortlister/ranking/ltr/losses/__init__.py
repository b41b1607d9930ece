"""Losses over a whole padded batch of lists: (B, L) scores, labels and a valid mask.

Score differences come by broadcasting, pair masks where y_i > y_j; LambdaRank weights
each pair by |ΔNDCG| of swapping the two candidates in the current ranking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shortlister.ranking.ltr.losses.lambdarank import delta_ndcg, lambdarank_loss
from shortlister.ranking.ltr.losses.ranknet import pair_mask, ranknet_loss

if TYPE_CHECKING:
    import torch

    from shortlister.ranking.ltr.config import LtrConfig

__all__ = ["delta_ndcg", "lambdarank_loss", "list_loss", "pair_mask", "ranknet_loss"]


def list_loss(
    cfg: LtrConfig, scores: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """The loss `cfg.loss` names, with its knobs (sigma, lambda_k)."""
    if cfg.loss == "lambdarank":
        return lambdarank_loss(scores, labels, valid, cfg.sigma, cfg.lambda_k)
    return ranknet_loss(scores, labels, valid, cfg.sigma)
