"""GloVe (Pennington, Socher & Manning 2014) trained on the title corpus.

Co-occurrence counts are weighted 1/distance over a symmetric window inside each title,
then word and context vectors are fitted by weighted least squares,

    J = sum_ij f(X_ij) (w_i . c_j + b_i + b'_j - log X_ij)^2,  f(x) = min(1, (x/x_max)^alpha),

with AdaGrad over shuffled mini-batches of the non-zero entries. The final vector of a
word is w + c, as in the paper.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from shortlister.core.checks import check_int, check_number
from shortlister.embeddings.base import register
from shortlister.embeddings.pretrained import vectors_from_arrays
from shortlister.embeddings.wordvec import WordVectorConfig, WordVectorEmbedder

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

logger = logging.getLogger(__name__)

_EPS = 1e-10  # keeps a zero gradient on a zero accumulator from giving 0/0


@dataclass
class GloveConfig(WordVectorConfig):
    vector_size: int = 100
    window: int = 5
    min_count: int = 1
    epochs: int = 20  # = conf/embeddings/glove.yaml; 50 was level (docs/pipeline_budget.md)
    learning_rate: float = 0.05  # AdaGrad's initial step, the paper's value
    x_max: float = 100.0
    alpha: float = 0.75
    # Non-zero entries per AdaGrad step; larger is faster per epoch but coarser.
    batch_size: int = 16384
    seed: int = 13

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        for knob in ("vector_size", "window", "min_count", "epochs", "batch_size"):
            check_int(f"{name}.{knob}", getattr(self, knob), minimum=1)
        check_int(f"{name}.seed", self.seed, minimum=0)
        for knob in ("learning_rate", "x_max", "alpha"):
            check_number(f"{name}.{knob}", getattr(self, knob), low=0, low_open=True)


def build_vocab(corpus_tokens: Sequence[Sequence[str]], min_count: int = 1) -> dict[str, int]:
    """word -> row, most frequent first (ties alphabetical), words below min_count dropped."""
    counts = Counter(token for tokens in corpus_tokens for token in tokens)
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return {w: i for i, w in enumerate(kept)}


def cooccurrence_matrix(
    corpus_tokens: Sequence[Sequence[str]], vocab: Mapping[str, int], window: int
) -> sp.csr_matrix:
    """Symmetric X with X[i, j] = sum over pairs of i and j at distance d <= window in
    the same title of 1/d. Words outside `vocab` are removed first (as GloVe's cooccur
    does), so they do not count towards distances."""
    ids: list[int] = []
    title: list[int] = []
    for t, tokens in enumerate(corpus_tokens):
        kept = [vocab[w] for w in tokens if w in vocab]
        ids.extend(kept)
        title.extend([t] * len(kept))
    ids_a = np.asarray(ids, dtype=np.int64)
    title_a = np.asarray(title, dtype=np.int64)
    rows, cols, vals = [], [], []
    # One vectorised pass per distance instead of a Python loop per token pair.
    for d in range(1, window + 1):
        same = title_a[:-d] == title_a[d:]
        left, right = ids_a[:-d][same], ids_a[d:][same]
        weight = np.full(len(left), 1.0 / d)
        rows += [left, right]
        cols += [right, left]
        vals += [weight, weight]
    n = len(vocab)
    if not rows:
        return sp.csr_matrix((n, n), dtype=np.float64)
    matrix = sp.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    return matrix.tocsr()  # sums duplicate pairs


def train_glove(
    cooc: sp.spmatrix,
    vector_size: int,
    *,
    epochs: int,
    learning_rate: float,
    x_max: float,
    alpha: float,
    batch_size: int,
    seed: int,
    initial_accumulator: float = 0.0,
) -> tuple[np.ndarray, list[float]]:
    """Fit GloVe on a co-occurrence matrix; returns (W + C as float32, loss per epoch).

    The loss of an epoch is the mean of f(X) (w.c + b + b' - log X)^2 / 2 over the
    entries, each taken just before its own mini-batch update. Seeded and deterministic
    on CPU, whatever the thread count (torch's CPU gather, unique and index_add_ are).
    """
    import torch

    coo = sp.coo_matrix(cooc)
    keep = coo.data > 0
    n_words, dim = coo.shape[0], vector_size
    rows = torch.from_numpy(coo.row[keep].astype(np.int64))
    cols = torch.from_numpy(coo.col[keep].astype(np.int64))
    # In numpy: torch's vectorised log gives last-bit differences with the thread count,
    # and the result should not depend on the machine's core count.
    x = coo.data[keep].astype(np.float64)
    log_x = torch.from_numpy(np.log(x).astype(np.float32))
    f_x = torch.from_numpy(np.minimum(1.0, (x / x_max) ** alpha).astype(np.float32))

    gen = torch.Generator().manual_seed(seed)
    # The reference implementation's initialisation: uniform in [-0.5, 0.5) / dim.
    params = [(torch.rand(n_words, dim, generator=gen) - 0.5) / dim for _ in range(2)]
    params += [(torch.rand(n_words, generator=gen) - 0.5) / dim for _ in range(2)]
    w, c, b_w, b_c = params
    # The reference implementation starts the accumulators at 1. On a title corpus most
    # counts are < 1 and f(X) ~ 0.03, so that makes AdaGrad plain SGD on tiny gradients
    # and the vectors barely leave their initialisation (nDCG@10 0.28 against 0.45 on the
    # default dataset). Starting at 0, as torch's Adagrad does, first moves every
    # coordinate by about learning_rate.
    sq = [torch.full_like(p, initial_accumulator) for p in params]

    losses: list[float] = []
    nnz = len(log_x)
    for _ in range(epochs):
        order = torch.randperm(nnz, generator=gen)
        total = 0.0
        for start in range(0, nnz, batch_size):
            idx = order[start : start + batch_size]
            i, j = rows[idx], cols[idx]
            wi, cj = w[i], c[j]
            diff = (wi * cj).sum(1) + b_w[i] + b_c[j] - log_x[idx]
            fdiff = f_x[idx] * diff
            total += 0.5 * float((fdiff * diff).sum())
            grad_w, grad_c = fdiff[:, None] * cj, fdiff[:, None] * wi
            _adagrad(w, sq[0], i, grad_w, learning_rate)
            _adagrad(c, sq[1], j, grad_c, learning_rate)
            _adagrad(b_w, sq[2], i, fdiff, learning_rate)
            _adagrad(b_c, sq[3], j, fdiff, learning_rate)
        losses.append(total / max(nnz, 1))
        if not math.isfinite(losses[-1]):
            raise FloatingPointError(
                f"glove: loss became {losses[-1]}; lower learning_rate ({learning_rate})"
            )
    return (w + c).numpy().astype(np.float32), losses


def _adagrad(param, sq_sum, index, grad, lr: float) -> None:
    """One AdaGrad step on the rows `index` of `param`; a word that occurs several times
    in the batch has its gradients summed first, so each row moves once."""
    import torch

    rows, inverse = torch.unique(index, return_inverse=True)
    summed = torch.zeros((len(rows), *grad.shape[1:]), dtype=grad.dtype)
    summed.index_add_(0, inverse, grad)
    sq_sum[rows] += summed * summed
    param[rows] -= lr * summed / (torch.sqrt(sq_sum[rows]) + _EPS)


@register("glove")
class GloveEmbedder(WordVectorEmbedder):
    config_class = GloveConfig

    def __init__(self, config: GloveConfig) -> None:
        super().__init__(config)
        self.loss_history: list[float] = []  # per epoch, from the last training run

    def train_vectors(self, corpus_tokens: list[list[str]]) -> KeyedVectors:
        cfg = self.config
        vocab = build_vocab(corpus_tokens, cfg.min_count)
        cooc = cooccurrence_matrix(corpus_tokens, vocab, cfg.window)
        logger.info("glove: %d words, %d non-zero co-occurrences", len(vocab), cooc.nnz)
        vectors, self.loss_history = train_glove(
            cooc,
            cfg.vector_size,
            epochs=cfg.epochs,
            learning_rate=cfg.learning_rate,
            x_max=cfg.x_max,
            alpha=cfg.alpha,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
        )
        if self.loss_history:
            logger.info(
                "glove: loss %.4f after epoch 1, %.4f after epoch %d",
                self.loss_history[0],
                self.loss_history[-1],
                len(self.loss_history),
            )
        return vectors_from_arrays(list(vocab), vectors)
