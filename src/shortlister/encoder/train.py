"""Contrastive fine-tuning of the title encoder with sentence-transformers.

Phase 1 (synonyms): MultipleNegativesRankingLoss (or its cached variant) on (anchor,
positive[, hard negative]) pairs: every other positive in the batch is a negative, so a
no-duplicates batch sampler keeps a title from being its own negative.
Phase 2 (relatedness, optional): CoSENT or AnglE on graded pairs, so related jobs
(same ISCO group, broader/narrower occupation) rank above unrelated ones, not only
synonyms above everything else.

Each phase has a step budget (reproducible) and a wall-time cap (a safety net on a busy
machine), warmup, a fixed seed, a progress bar, and checkpoints under
`checkpoint_dir/<fingerprint>/<phase>-<digest of its starting weights>/`, which a re-run
with the same pairs, config, base model and libraries resumes from: a resumed run saves
the weights an uninterrupted one does (tests/test_resume.py), and a finished phase
resumes at its last step and costs nothing. Only complete checkpoints are resumed from.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shortlister.core.budget import time_budget_callback
from shortlister.core.cache import cache_dir, cache_path, last_complete_checkpoint, versions
from shortlister.core.checks import build, check_choice, check_int, check_number
from shortlister.embeddings.sbert import RUNTIME, model_identity, resolve_model

logger = logging.getLogger(__name__)

PHASE1_LOSSES = ("mnrl", "cached_mnrl", "mnrl_all")
# mnrl_all: the GTE-style loss, every in-batch direction (anchor->positive, positive->anchor,
# anchor->anchor, positive->positive); titles match titles both ways, so each pair gets
# about four times the negatives for the same forward pass.
ALL_DIRECTIONS = ("query_to_doc", "doc_to_query", "query_to_query", "doc_to_doc")
PHASE2_LOSSES = ("cosent", "angle")


@dataclass
class PhaseConfig:
    enabled: bool = True
    loss: str = "mnrl"
    batch_size: int = 64
    mini_batch_size: int = 32  # cached_mnrl only: the memory-bound chunk of a big batch
    scale: float = 20.0  # similarity scale of the loss (20 for MNRL and CoSENT)
    lr: float = 5e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_steps: int = 250
    # Steps are also capped at this many passes over the pairs: without ../shared the
    # pairs are ~1k, and 870 steps over them would memorise them.
    max_epochs: float = 1.0
    max_minutes: float | None = 12.0  # stop early (and save) past this wall time
    checkpoint_steps: int = 50

    def check(self, name: str, losses: tuple[str, ...]) -> None:
        check_choice(f"encoder.{name}.loss", self.loss, losses)
        for key in ("batch_size", "mini_batch_size", "max_steps", "checkpoint_steps"):
            check_int(f"encoder.{name}.{key}", getattr(self, key), minimum=1)
        check_number(f"encoder.{name}.max_epochs", self.max_epochs, low=0, low_open=True)
        check_number(
            f"encoder.{name}.warmup_ratio", self.warmup_ratio, low=0, high=1, high_open=True
        )
        if self.max_minutes is not None:
            check_number(f"encoder.{name}.max_minutes", self.max_minutes, low=0, low_open=True)


@dataclass
class TrainConfig:
    base_model: str = "all-MiniLM-L6-v2"  # resolved like methods.sbert.model (offline)
    max_seq_length: int = 32  # titles are short; cost grows with it
    seed: int = 13
    threads: int | None = None  # torch threads; None: torch's default
    device: str | None = "cpu"
    # The word-embedding matrix is half of MiniLM's weights: frozen, a CPU step is cheaper
    # and the 30k token vectors (most unseen in titles) cannot drift.
    freeze_embeddings: bool = True
    # In the repository's .cache/ (conf: .cache/encoder-checkpoints); None: off.
    checkpoint_dir: str | None = field(default_factory=lambda: cache_dir("encoder-checkpoints"))
    synonyms: PhaseConfig = field(default_factory=PhaseConfig)
    relatedness: PhaseConfig = field(default_factory=lambda: _relatedness_defaults())

    def __post_init__(self) -> None:
        # A partial mapping (YAML, tests) overrides the phase's own defaults.
        if isinstance(self.synonyms, dict):
            self.synonyms = PhaseConfig(**self.synonyms)
        if isinstance(self.relatedness, dict):
            self.relatedness = PhaseConfig(
                **{**asdict(_relatedness_defaults()), **self.relatedness}
            )
        self.synonyms.check("synonyms", PHASE1_LOSSES)
        self.relatedness.check("relatedness", PHASE2_LOSSES)
        check_int("encoder.max_seq_length", self.max_seq_length, minimum=8)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> TrainConfig:
        """From ``encoder.train`` (with ``seed`` added); unknown keys are refused."""
        return build(cls, cfg, "encoder.train")


def _relatedness_defaults() -> PhaseConfig:
    return PhaseConfig(loss="cosent", lr=2e-5, max_steps=60, max_minutes=4.0, checkpoint_steps=30)


@dataclass
class PhaseResult:
    name: str
    steps: int
    resumed_from_step: int
    seconds: float
    examples: int
    final_loss: float | None
    stopped_by_time: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Libraries whose versions change a training run (numerics, sampling, the loop itself).
TRAINING_LIBRARIES = (*RUNTIME, "accelerate", "datasets")
# Settings that say where checkpoints go and when a run stops, not what it trains: a run
# stopped by its wall-time budget resumes under a larger one (tests/test_resume.py).
NOT_TRAINING = ("checkpoint_dir",)
NOT_TRAINING_PHASE = ("max_minutes", "checkpoint_steps")


def fingerprint(cfg: TrainConfig, synonyms: pd.DataFrame, graded: pd.DataFrame) -> str:
    """Changes with anything that changes training: the config, the exact pairs (graded
    pairs only when the relatedness phase trains on them), the base model's files and the
    training libraries' versions. The checkpoints of another fingerprint are never resumed."""
    settings = {k: v for k, v in asdict(cfg).items() if k not in NOT_TRAINING}
    for phase in ("synonyms", "relatedness"):
        settings[phase] = {k: v for k, v in settings[phase].items() if k not in NOT_TRAINING_PHASE}
    settings["base"] = model_identity(cfg.base_model)
    settings["versions"] = versions(TRAINING_LIBRARIES)
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode())
    for frame in (synonyms, graded) if cfg.relatedness.enabled else (synonyms,):
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def load_base(cfg: TrainConfig):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model = SentenceTransformer(resolve_model(cfg.base_model), device=cfg.device)
    model.max_seq_length = cfg.max_seq_length
    if cfg.freeze_embeddings:
        model[0].auto_model.embeddings.word_embeddings.weight.requires_grad_(False)
    return model


def build_loss(model, phase: PhaseConfig):
    from sentence_transformers.sentence_transformer import losses

    if phase.loss == "mnrl":
        return losses.MultipleNegativesRankingLoss(model, scale=phase.scale)
    if phase.loss == "mnrl_all":
        return losses.MultipleNegativesRankingLoss(
            model, scale=phase.scale, directions=ALL_DIRECTIONS
        )
    if phase.loss == "cached_mnrl":
        return losses.CachedMultipleNegativesRankingLoss(
            model, scale=phase.scale, mini_batch_size=phase.mini_batch_size
        )
    if phase.loss == "cosent":
        return losses.CoSENTLoss(model, scale=phase.scale)
    return losses.AnglELoss(model, scale=phase.scale)


def phase_steps(phase: PhaseConfig, n_pairs: int) -> int:
    """max_steps, or fewer when that many steps would pass over the pairs > max_epochs times."""
    per_epoch = max(1, n_pairs // phase.batch_size)
    return max(1, min(phase.max_steps, math.ceil(phase.max_epochs * per_epoch)))


def weights_digest(model) -> str:
    """A digest of the model's current weights (names, dtypes, shapes and bytes)."""
    import torch

    digest = hashlib.sha1()
    for key, tensor in sorted(model.state_dict().items()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{key}|{flat.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def phase_checkpoints(checkpoint_dir: Path, name: str, model) -> Path:
    """`<checkpoint_dir>/<name>-<digest of the weights it starts from>`: phase 2's
    checkpoints are of one phase-1 result (a phase 1 cut short by its time budget and
    resumed later starts a new phase 2, never the one trained on the short result).
    Other starting points' folders of this phase are removed."""
    out_dir = checkpoint_dir / f"{name}-{weights_digest(model)[:12]}"
    if checkpoint_dir.is_dir():
        for stale in checkpoint_dir.glob(f"{name}*"):
            if stale.is_dir() and stale != out_dir:
                logger.info("%s: removing checkpoints of another starting point", stale)
                shutil.rmtree(stale, ignore_errors=True)
    return out_dir


def train_phase(
    model,
    name: str,
    frame: pd.DataFrame,
    phase: PhaseConfig,
    cfg: TrainConfig,
    checkpoint_dir: Path | None,
    scratch: Path,
) -> PhaseResult:
    """One phase on `frame` (its columns in the loss's order); the model is trained in place."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.training_args import BatchSamplers

    out_dir = phase_checkpoints(checkpoint_dir, name, model) if checkpoint_dir else scratch / name
    out_dir.mkdir(parents=True, exist_ok=True)
    resume = last_complete_checkpoint(out_dir) if checkpoint_dir else None
    resumed_from = int(Path(resume).name.split("-")[-1]) if resume else 0
    in_batch = phase.loss in PHASE1_LOSSES
    steps = phase_steps(phase, len(frame))
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out_dir),
        max_steps=steps,
        per_device_train_batch_size=phase.batch_size,
        learning_rate=phase.lr,
        warmup_steps=int(phase.warmup_ratio * steps),
        weight_decay=phase.weight_decay,
        # A title twice in one batch would be its own in-batch negative.
        batch_sampler=BatchSamplers.NO_DUPLICATES if in_batch else BatchSamplers.BATCH_SAMPLER,
        save_strategy="steps" if checkpoint_dir else "no",
        save_steps=phase.checkpoint_steps,
        save_total_limit=1,
        logging_steps=max(1, min(50, steps // 10)),
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to="none",
        use_cpu=cfg.device == "cpu",
        dataloader_drop_last=in_batch,
        disable_tqdm=False,
    )
    budget = time_budget_callback(phase.max_minutes, save=True)
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_pandas(frame.reset_index(drop=True), preserve_index=False),
        loss=build_loss(model, phase),
        callbacks=[budget],
    )
    if resume:
        logger.info("%s: resuming from %s", name, resume)
    t0 = time.perf_counter()
    if resume and resumed_from >= steps:
        # A finished phase: its final weights. (Trainer would take one more step, at a
        # learning rate of 0, when the last step falls inside an epoch.)
        from transformers import TrainerState

        trainer._load_from_checkpoint(resume)
        trainer.state = TrainerState.load_from_json(str(Path(resume) / "trainer_state.json"))
    else:
        trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - t0
    steps = int(trainer.state.global_step)
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    logger.info(
        "%s: %d steps (from %d) in %.0fs, last logged loss %s",
        name,
        steps,
        resumed_from,
        seconds,
        f"{losses[-1]:.4f}" if losses else "-",
    )
    return PhaseResult(
        name=name,
        steps=steps,
        resumed_from_step=resumed_from,
        seconds=round(seconds, 1),
        examples=(steps - resumed_from) * phase.batch_size,
        final_loss=float(losses[-1]) if losses else None,
        stopped_by_time=budget.hit,
    )


def train_encoder(
    cfg: TrainConfig,
    synonyms: pd.DataFrame,
    graded: pd.DataFrame,
    out_dir: str | Path,
    scratch: str | Path,
) -> dict[str, Any]:
    """Train phase 1 (and phase 2 when enabled) from the base model; save to `out_dir`."""
    import torch
    from transformers import set_seed

    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    set_seed(cfg.seed)
    key = fingerprint(cfg, synonyms, graded)
    checkpoints = None
    if cfg.checkpoint_dir:
        checkpoints = cache_path(cfg.checkpoint_dir) / key
    model = load_base(cfg)
    results = []
    if cfg.synonyms.enabled and len(synonyms):
        cols = [c for c in ("anchor", "positive", "negative") if c in synonyms.columns]
        results.append(
            train_phase(
                model, "synonyms", synonyms[cols], cfg.synonyms, cfg, checkpoints, Path(scratch)
            )
        )
    if cfg.relatedness.enabled and len(graded):
        frame = graded[["sentence1", "sentence2", "score"]].astype({"score": "float32"})
        results.append(
            train_phase(
                model, "relatedness", frame, cfg.relatedness, cfg, checkpoints, Path(scratch)
            )
        )
    out_dir = Path(out_dir)
    model.save(str(out_dir))
    return {
        "fingerprint": key,
        "checkpoints": str(checkpoints) if checkpoints else None,
        "phases": [r.as_dict() for r in results],
        "train_seconds": round(sum(r.seconds for r in results), 1),
        "base_model": cfg.base_model,
        "max_seq_length": cfg.max_seq_length,
    }
