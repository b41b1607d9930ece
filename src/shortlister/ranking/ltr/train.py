"""Training: fit the scaler on the training lists, then the model with early stopping on
validation NDCG@k, deterministically for a seed and thread count."""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from shortlister.core.errors import ConfigError
from shortlister.core.progress import progress
from shortlister.evaluation.metrics import ndcg_at_k
from shortlister.ranking.features import FeatureScaler
from shortlister.ranking.ltr.config import LtrConfig
from shortlister.ranking.ltr.lists import RankingList, padded
from shortlister.ranking.ltr.losses import list_loss, pair_mask
from shortlister.ranking.ltr.model import RankNet, score_list

logger = logging.getLogger(__name__)


@contextmanager
def deterministic(seed: int, threads: int) -> Iterator[None]:
    """Same seed and thread count -> the same numbers on CPU; the process's torch
    settings (threads, deterministic mode) are restored afterwards."""
    before = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        torch.use_deterministic_algorithms(before[1])


@dataclass
class TrainResult:
    model: RankNet
    scaler: FeatureScaler
    history: list[dict[str, float]]  # epoch, train_loss, val_ndcg
    best_epoch: int
    best_val_ndcg: float
    train_seconds: float
    pairs_per_second: float
    n_pairs: int  # ordered pairs in the training lists (one epoch)


def list_ndcg(model: RankNet, scaler: FeatureScaler, lists: Sequence[RankingList], k: int) -> float:
    """Mean NDCG@k of re-ranked lists against each query's full judgments."""
    values = []
    for lst in lists:
        if not any(g > 0 for g in lst.judgments.values()):
            continue
        s = score_list(model, scaler, lst.features)
        order = np.lexsort((np.arange(len(s)), -s))
        values.append(ndcg_at_k([lst.ids[i] for i in order], lst.judgments, k))
    return float(np.mean(values)) if values else math.nan


def init_prior(model: RankNet, weights: Mapping[str, float], feature_names: Sequence[str]) -> None:
    """Make the untrained model score sum_f w_f * standardised feature f."""
    if model.skip is None:
        raise ConfigError("ranker.init_weights needs linear_skip: true")
    unknown = sorted(set(weights) - set(feature_names))
    if unknown:
        raise ConfigError(f"ranker.init_weights: {unknown} are not features of this ranker")
    with torch.no_grad():
        model.skip.weight.zero_()
        for name, w in weights.items():
            model.skip.weight[0, list(feature_names).index(name)] = float(w)
        last = model.mlp[-1]
        last.weight.zero_()
        last.bias.zero_()


def train_ranker(
    train: Sequence[RankingList],
    validation: Sequence[RankingList],
    cfg: LtrConfig,
    feature_names: Sequence[str] = (),
) -> TrainResult:
    """Fit the scaler on `train` only, train with early stopping on validation NDCG@k."""
    if not train:
        raise ValueError("no training lists: the dataset has no train-split queries")
    with deterministic(cfg.seed, cfg.threads):
        return _train(train, validation, cfg, feature_names)


def _train(
    train: Sequence[RankingList],
    validation: Sequence[RankingList],
    cfg: LtrConfig,
    feature_names: Sequence[str],
) -> TrainResult:
    scaler = FeatureScaler.fit([lst.features for lst in train])
    x, y, valid = padded(train, scaler)
    n_pairs = int(pair_mask(y, valid).sum())
    model = RankNet(x.shape[-1], cfg.hidden_sizes, cfg.dropout, cfg.linear_skip)
    if cfg.init_weights:
        init_prior(model, cfg.init_weights, feature_names)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    generator = torch.Generator().manual_seed(cfg.seed)
    evaluate = validation or train  # without validation queries, stop on training NDCG
    best_ndcg = list_ndcg(model, scaler, evaluate, cfg.eval_k)
    history = [{"epoch": 0, "train_loss": math.nan, "val_ndcg": best_ndcg}]
    best_state, best_epoch, train_seconds = copy.deepcopy(model.state_dict()), 0, 0.0
    epochs = progress(range(1, cfg.epochs + 1), desc=f"{cfg.name}: train", unit="epoch")
    for epoch in epochs:
        t0 = time.perf_counter()
        loss = _train_epoch(model, optimiser, cfg, x, y, valid, generator)
        train_seconds += time.perf_counter() - t0
        val = list_ndcg(model, scaler, evaluate, cfg.eval_k)
        history.append({"epoch": epoch, "train_loss": loss, "val_ndcg": val})
        logger.info("epoch %3d  loss %.4f  val ndcg@%d %.4f", epoch, loss, cfg.eval_k, val)
        epochs.set_postfix(val_ndcg=f"{val:.4f}", refresh=False)
        if val > best_ndcg:
            best_ndcg, best_epoch, best_state = val, epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch > cfg.patience:
            logger.info("early stop at epoch %d (best %d)", epoch, best_epoch)
            break
    epochs.close()
    model.load_state_dict(best_state)
    model.eval()
    epochs_run = history[-1]["epoch"]
    return TrainResult(
        model,
        scaler,
        history,
        best_epoch,
        best_ndcg,
        train_seconds,
        n_pairs * epochs_run / max(train_seconds, 1e-9),
        n_pairs,
    )


def _train_epoch(
    model: RankNet,
    optimiser: torch.optim.Optimizer,
    cfg: LtrConfig,
    x: torch.Tensor,
    y: torch.Tensor,
    valid: torch.Tensor,
    generator: torch.Generator,
) -> float:
    model.train()
    perm = torch.randperm(x.shape[0], generator=generator)
    losses = []
    for start in range(0, len(perm), cfg.batch_queries):
        batch = perm[start : start + cfg.batch_queries]
        # Trim the padding this batch does not need.
        length = int(valid[batch].sum(dim=1).max())
        xb, yb, vb = x[batch, :length], y[batch, :length], valid[batch, :length]
        optimiser.zero_grad(set_to_none=True)
        loss = list_loss(cfg, model(xb), yb, vb)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses))
