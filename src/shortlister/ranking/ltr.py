"""Learning to rank: a RankNet scorer, RankNet and LambdaRank losses, training, loading.

The model scores one (query, candidate) feature row (see `features.py`) with a small MLP
plus a linear term and outputs a raw score: no sigmoid, so scores do not saturate and
tie (the prototype's 0.50 plateaus). Losses see a whole padded batch of lists at once:
score differences by broadcasting, pair masks where y_i > y_j, and for LambdaRank each
pair weighted by |ΔNDCG| of swapping the two candidates in the current ranking.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from shortlister.core.errors import ConfigError
from shortlister.embeddings.base import Embedder, build_embedder
from shortlister.evaluation.metrics import ndcg_at_k
from shortlister.evaluation.trec import Qrels, Run, read_queries, write_run
from shortlister.ranking.cosine import rank, top_k
from shortlister.ranking.features import (
    FeatureConfig,
    FeatureScaler,
    PoolIndex,
    QueryScores,
    build_pool_index,
    candidate_list,
    pair_features,
    score_queries,
)

logger = logging.getLogger(__name__)

LOSSES = ("ranknet", "lambdarank")
MODEL_FILE, CONFIG_FILE, FEATURES_FILE, SCALER_FILE = (
    "model.pt",
    "model.json",
    "features.json",
    "scaler.npz",
)


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
        if self.loss not in LOSSES:
            raise ConfigError(f"ranker.loss must be one of {list(LOSSES)}, got {self.loss!r}")
        if any(int(h) < 1 for h in self.hidden_sizes):
            raise ConfigError(f"ranker.hidden_sizes must be >= 1, got {self.hidden_sizes}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"ranker.dropout must be in [0, 1), got {self.dropout}")
        for knob in ("epochs", "batch_queries", "threads", "eval_k"):
            if int(getattr(self, knob)) < 1:
                raise ConfigError(f"ranker.{knob} must be >= 1, got {getattr(self, knob)}")
        if self.lr <= 0 or self.weight_decay < 0 or self.patience < 0:
            raise ConfigError("ranker: expected lr > 0, weight_decay >= 0, patience >= 0")


def split_config(cfg: Mapping[str, Any]) -> tuple[LtrConfig, FeatureConfig]:
    """A `rankers.<name>` mapping -> (model/training config, feature config)."""
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
    return LtrConfig(**cfg), FeatureConfig(**feat)


# --------------------------------------------------------------------------- model


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


# --------------------------------------------------------------------------- losses


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


def list_loss(
    cfg: LtrConfig, scores: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    if cfg.loss == "lambdarank":
        return lambdarank_loss(scores, labels, valid, cfg.sigma, cfg.lambda_k)
    return ranknet_loss(scores, labels, valid, cfg.sigma)


# --------------------------------------------------------------------------- data


@dataclass
class RankingList:
    """One query's re-ranking list: pool positions, raw features, grades (unjudged 0)."""

    query_id: str
    idx: np.ndarray  # (L,) positions in the pool, ascending
    ids: list[str]
    features: np.ndarray  # (L, F) unscaled
    labels: np.ndarray  # (L,) int grades
    judgments: dict[str, int]  # every judgment of the query, for NDCG against all of them


def build_lists(
    index: PoolIndex,
    qs: QueryScores,
    query_ids: Sequence[str],
    qrels: Qrels,
    cfg: FeatureConfig,
    rows: Sequence[int] | None = None,
    with_features: bool = True,
) -> list[RankingList]:
    """Lists of the queries `query_ids` (rows `rows` of `qs`, default 0..n-1).

    `with_features=False` leaves the feature matrices empty (enough for `recall_ceiling`).
    """
    rows = range(len(query_ids)) if rows is None else rows
    out = []
    for qid, row in zip(query_ids, rows, strict=True):
        idx = candidate_list(qs, row, cfg.candidates_per_query)
        judged = qrels.get(qid, {})
        ids = [index.ids[i] for i in idx]
        out.append(
            RankingList(
                qid,
                idx,
                ids,
                pair_features(index, qs, row, idx, cfg)
                if with_features
                else np.zeros((len(idx), 0), dtype=np.float32),
                np.array([judged.get(c, 0) for c in ids], dtype=np.int64),
                dict(judged),
            )
        )
    return out


def recall_ceiling(lists: Sequence[RankingList], min_grade: int = 2, k: int = 10) -> dict:
    """What re-ranking these lists can reach at best: recall of relevant judged candidates,
    and NDCG@k of the perfect order of each list (against all judgments)."""
    recalls, ndcgs = [], []
    for lst in lists:
        n_rel = sum(g >= min_grade for g in lst.judgments.values())
        if n_rel == 0:
            continue
        recalls.append(float((lst.labels >= min_grade).sum()) / n_rel)
        best = [lst.ids[i] for i in np.argsort(-lst.labels, kind="stable")]
        ndcgs.append(ndcg_at_k(best, lst.judgments, k))
    return {
        "recall": float(np.mean(recalls)) if recalls else math.nan,
        f"ndcg@{k}": float(np.mean(ndcgs)) if ndcgs else math.nan,
        "mean_list_length": float(np.mean([len(x.ids) for x in lists])) if lists else 0.0,
    }


def _padded(
    lists: Sequence[RankingList], scaler: FeatureScaler
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scaled features (Q, Lmax, F), labels (Q, Lmax) and the valid mask, padded with zeros."""
    length = max(len(x.ids) for x in lists)
    n_feat = lists[0].features.shape[1]
    x = np.zeros((len(lists), length, n_feat), dtype=np.float32)
    y = np.zeros((len(lists), length), dtype=np.int64)
    valid = np.zeros((len(lists), length), dtype=bool)
    for i, lst in enumerate(lists):
        n = len(lst.ids)
        x[i, :n], y[i, :n], valid[i, :n] = scaler.transform(lst.features), lst.labels, True
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(valid)


# --------------------------------------------------------------------------- training


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


def score_list(model: RankNet, scaler: FeatureScaler, features: np.ndarray) -> np.ndarray:
    """Raw float32 scores of unscaled feature rows."""
    model.eval()
    with torch.inference_mode():
        return model(torch.from_numpy(scaler.transform(features))).numpy().astype(np.float32)


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
    x, y, valid = _padded(train, scaler)
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
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        loss = _train_epoch(model, optimiser, cfg, x, y, valid, generator)
        train_seconds += time.perf_counter() - t0
        val = list_ndcg(model, scaler, evaluate, cfg.eval_k)
        history.append({"epoch": epoch, "train_loss": loss, "val_ndcg": val})
        logger.info("epoch %3d  loss %.4f  val ndcg@%d %.4f", epoch, loss, cfg.eval_k, val)
        if val > best_ndcg:
            best_ndcg, best_epoch, best_state = val, epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch > cfg.patience:
            logger.info("early stop at epoch %d (best %d)", epoch, best_epoch)
            break
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


# --------------------------------------------------------------------------- saving, loading


def save_ranker(
    directory: str | Path, result: TrainResult, cfg: LtrConfig, features: FeatureConfig
) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(result.model.state_dict(), directory / MODEL_FILE)
    n_features = int(result.scaler.mean.shape[0])
    meta = {"config": asdict(cfg), "n_features": n_features, "best_epoch": result.best_epoch}
    (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    features.save(directory / FEATURES_FILE)
    result.scaler.save(directory / SCALER_FILE)
    return directory


def load_ltr_ranker(model_dir: str | Path, sbert: Embedder | None = None) -> LtrRanker:
    """Load a ranker saved by the ranker stage (models/ranker/<name>/)."""
    model_dir = Path(model_dir)
    missing = [f for f in (MODEL_FILE, CONFIG_FILE, FEATURES_FILE, SCALER_FILE)
               if not (model_dir / f).exists()]  # fmt: skip
    if missing:
        raise FileNotFoundError(
            f"{model_dir}: not a trained ranker, missing {missing} "
            "(run `python -m shortlister.stages.ranker --name <name>` first)"
        )
    meta = json.loads((model_dir / CONFIG_FILE).read_text())
    cfg = LtrConfig(**meta["config"])
    features = FeatureConfig.load(model_dir / FEATURES_FILE)
    model = RankNet(meta["n_features"], cfg.hidden_sizes, cfg.dropout, cfg.linear_skip)
    model.load_state_dict(torch.load(model_dir / MODEL_FILE, weights_only=True))
    model.eval()
    return LtrRanker(
        model,
        FeatureScaler.load(model_dir / SCALER_FILE),
        features,
        sbert or build_embedder(features.sbert),
        cfg.name,
    )


# --------------------------------------------------------------------------- ranker


def rerank_scores(head_idx: np.ndarray, head_scores: np.ndarray, base: np.ndarray) -> np.ndarray:
    """One score per pool candidate whose descending order is the re-ranked ranking.

    The list keeps the model's scores; every other candidate follows, in the order of
    the first-stage score `base`, strictly below the list's lowest score.
    """
    out = np.empty(base.shape[0], dtype=np.float64)
    floor = float(head_scores.min()) - 1.0 if len(head_scores) else 0.0
    out[:] = floor - (float(base.max()) - base.astype(np.float64))
    out[head_idx] = head_scores
    return out


def tie_rate(scores: np.ndarray, k: int = 10) -> float:
    """Share of the top-k positions whose float32 score equals another top-k score."""
    top = np.asarray(scores, dtype=np.float32)[top_k(np.asarray(scores, np.float32), k)]
    if len(top) == 0:
        return 0.0
    _, inverse, counts = np.unique(top, return_inverse=True, return_counts=True)
    return float((counts[inverse] > 1).mean())


@dataclass
class LtrRanker:
    """A trained ranker: re-ranks a pool's best Sentence-BERT/TF-IDF candidates per query."""

    model: RankNet
    scaler: FeatureScaler
    features: FeatureConfig
    sbert: Embedder
    name: str = "ranknet"
    _cache: tuple[tuple, PoolIndex] | None = field(default=None, repr=False)

    def index(self, pool: pd.DataFrame | PoolIndex) -> PoolIndex:
        """The pool's candidate-side features; the last pool's index is kept for reuse."""
        if isinstance(pool, PoolIndex):
            return pool
        key = (tuple(pool["id"].astype(str)), tuple(pool["title"].astype(str)))
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, build_pool_index(pool, self.features, sbert=self.sbert))
        return self._cache[1]

    def query_scores(self, index: PoolIndex, queries: Sequence[str]) -> QueryScores:
        return score_queries(index, queries, self.sbert)

    def score_rows(self, index: PoolIndex, qs: QueryScores, row: int, idx: np.ndarray):
        return score_list(
            self.model, self.scaler, pair_features(index, qs, row, idx, self.features)
        )

    def score(self, query: str, pool: pd.DataFrame | PoolIndex) -> np.ndarray:
        """Model scores of every candidate of the pool for one query, float32."""
        index = self.index(pool)
        qs = self.query_scores(index, [query])
        return self.score_rows(index, qs, 0, np.arange(len(index)))

    def rerank(self, index: PoolIndex, qs: QueryScores, row: int) -> np.ndarray:
        """Full-pool scores of query `row`: its candidate list re-ranked, then the rest."""
        idx = candidate_list(qs, row, self.features.candidates_per_query)
        head = self.score_rows(index, qs, row, idx)
        return rerank_scores(idx, head, qs.scores["sbert_cos"][row])

    def search(
        self, query: str, pool: pd.DataFrame | PoolIndex, k: int = 10
    ) -> tuple[np.ndarray, np.ndarray]:
        """(row order of the best k, scores of every candidate), as `CandidatePool.search`."""
        index = self.index(pool)
        scores = self.rerank(index, self.query_scores(index, [query]), 0)
        return top_k(scores, k), scores

    def batch(self, queries: pd.DataFrame, pool: pd.DataFrame | PoolIndex, k: int) -> Run:
        index = self.index(pool)
        qs = self.query_scores(index, queries["query"].tolist())
        return {
            qid: rank(index.ids, self.rerank(index, qs, row), k)
            for row, qid in enumerate(queries["query_id"])
        }

    def write_batch_run(
        self,
        queries_path: str | Path,
        pool: pd.DataFrame | PoolIndex,
        out: str | Path,
        *,
        top_k: int,
        tag: str,
    ) -> int:
        queries = read_queries(queries_path)
        write_run(out, self.batch(queries, pool, top_k), tag=tag)
        return len(queries)
