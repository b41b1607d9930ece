"""The scorer: score(x) = MLP(x) + w·x over (query, candidate) feature rows.

Raw, unbounded scores: no sigmoid, so scores do not saturate and tie (the prototype's
0.50 plateaus).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from shortlister.ranking.features import FeatureScaler


class RankNet(nn.Module):
    """score(x) = MLP(x) + w·x: raw, unbounded scores of feature rows (..., n_features)."""

    def __init__(
        self, n_features: int, hidden_sizes: Sequence[int], dropout: float, linear_skip: bool
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden_sizes:
            layers += [nn.Linear(width, int(h)), nn.ReLU(), nn.Dropout(dropout)]
            width = int(h)
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)
        self.skip = nn.Linear(n_features, 1, bias=False) if linear_skip else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.mlp(x).squeeze(-1)
        if self.skip is not None:
            out = out + self.skip(x).squeeze(-1)
        return out


def score_list(model: RankNet, scaler: FeatureScaler, features: np.ndarray) -> np.ndarray:
    """Raw float32 scores of unscaled feature rows."""
    model.eval()
    with torch.inference_mode():
        return model(torch.from_numpy(scaler.transform(features))).numpy().astype(np.float32)
