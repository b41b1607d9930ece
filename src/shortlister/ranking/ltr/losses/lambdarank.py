"""LambdaRank: RankNet's pairs, each weighted by |ΔNDCG@k| of swapping the two candidates."""

from __future__ import annotations

import math

import torch

from shortlister.ranking.ltr.losses.ranknet import ranknet_loss


def _discounts(positions: torch.Tensor, k: int | None) -> torch.Tensor:
    """1 / log2(2 + p) for 0-based positions p; 0 from position k on when truncated."""
    disc = 1.0 / torch.log2(positions.to(torch.float64) + 2.0)
    if k is not None:
        disc = torch.where(positions < k, disc, torch.zeros_like(disc))
    return disc


@torch.no_grad()
def delta_ndcg(
    scores: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor, k: int | None = None
) -> torch.Tensor:
    """(B, L, L): |change of NDCG@k| when candidates i and j swap places in the ranking.

    The ranking sorts by score (ties by list position), padding last. Gains are the
    grades (linear, as the evaluation); the ideal DCG comes from the list's own labels.
    """
    batch, length = scores.shape
    masked = scores.detach().masked_fill(~valid, -math.inf)
    order = torch.argsort(masked, dim=1, descending=True, stable=True)
    arange = torch.arange(length, device=scores.device).expand(batch, length)
    positions = torch.empty_like(order).scatter_(1, order, arange)
    disc = _discounts(positions, k)
    gains = torch.where(valid, labels.to(torch.float64).clamp(min=0), 0.0)
    ideal = torch.sort(gains, dim=1, descending=True).values
    idcg = (ideal * _discounts(arange, k)).sum(dim=1)
    delta = (gains[:, :, None] - gains[:, None, :]) * (disc[:, :, None] - disc[:, None, :])
    safe = torch.where(idcg > 0, idcg, torch.ones_like(idcg))
    out = delta.abs() / safe[:, None, None]
    keep = (idcg > 0)[:, None, None] & valid[:, :, None] & valid[:, None, :]
    return torch.where(keep, out, torch.zeros_like(out)).to(scores.dtype)


def lambdarank_loss(
    scores: torch.Tensor,
    labels: torch.Tensor,
    valid: torch.Tensor,
    sigma: float = 1.0,
    k: int | None = 10,
) -> torch.Tensor:
    """RankNet's pairwise loss, each pair weighted by |ΔNDCG@k| (LambdaRank)."""
    return ranknet_loss(scores, labels, valid, sigma, weights=delta_ndcg(scores, labels, valid, k))
