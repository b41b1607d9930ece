"""Training the cross-encoder: a sentence-transformers `CrossEncoder` on graded pairs.

The model is MiniLM (`all-MiniLM-L6-v2`, from the installed package, or the tuned
title encoder's weights) with a fresh one-logit head, trained by binary cross-entropy on
*soft* targets (the graded labels of `cross.pairs`), so sigmoid(logit) learns how related
a (role, title) pair is rather than whether it is a synonym. A step budget (reproducible),
a wall-time cap (a safety net that stops and saves), a fixed seed, a progress bar, and
checkpoints under `checkpoint_dir/<fingerprint>/` that a re-run with the same pairs and
config resumes from.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from shortlister.core.budget import time_budget_callback
from shortlister.cross.config import CrossTrainConfig
from shortlister.embeddings.sbert import resolve_model

logger = logging.getLogger(__name__)

# The transformer's own files in a Sentence-BERT folder: without modules.json and the
# pooling folder, CrossEncoder builds BertForSequenceClassification on the same weights.
TRANSFORMER_FILES = (
    "config.json",
    "model.safetensors",
    "pytorch_model.bin",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def fingerprint(cfg: CrossTrainConfig, pairs: pd.DataFrame, seed: int, base: str) -> str:
    """Changes with anything that changes training: config, base weights, the exact pairs."""
    import sentence_transformers
    import torch
    import transformers

    payload = {
        "cfg": asdict(cfg),
        "seed": seed,
        "versions": [m.__version__ for m in (sentence_transformers, transformers, torch)],
    }
    digest = hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode())
    files = [Path(base) / f for f in TRANSFORMER_FILES[1:3]]
    weights = next((f for f in files if f.is_file()), None)
    if weights is not None:
        digest.update(f"{weights.stat().st_size}:{_file_sha1(weights)}".encode())
    digest.update(pd.util.hash_pandas_object(pairs, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def _file_sha1(path: Path) -> str:
    h = hashlib.sha1()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def base_folder(name: str, models_dir: str | Path) -> Path:
    """`title-encoder`: the train_encoder stage's output; else resolved like methods.sbert."""
    if name == "title-encoder":
        path = Path(models_dir) / "title-encoder"
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: run `dvc repro train_encoder` first")
        return path
    return Path(resolve_model(name))


def transformer_only(src: Path, dst: Path) -> Path:
    """Copy the transformer's files of a Sentence-BERT folder (or a plain HF folder)."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in TRANSFORMER_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
    if not (dst / "config.json").is_file():
        raise FileNotFoundError(f"{src}: no config.json; expected a transformer model folder")
    return dst


def train_steps(cfg: CrossTrainConfig, n_pairs: int) -> int:
    per_epoch = max(1, n_pairs // cfg.batch_size)
    return max(1, min(cfg.max_steps, math.ceil(cfg.max_epochs * per_epoch)))


def train_cross_encoder(
    cfg: CrossTrainConfig,
    pairs: pd.DataFrame,
    base: Path,
    out_dir: str | Path,
    scratch: str | Path,
    seed: int = 13,
) -> dict[str, Any]:
    """Train from `base` on (sentence1, sentence2, label) pairs; save to `out_dir`."""
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from transformers import set_seed
    from transformers.trainer_utils import get_last_checkpoint
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    set_seed(seed)
    frame = pairs[["sentence1", "sentence2", "label"]].astype({"label": "float32"})
    key = fingerprint(cfg, frame, seed, str(base))
    plain = transformer_only(base, Path(scratch) / "base")
    model = CrossEncoder(str(plain), num_labels=1, max_length=cfg.max_length, device="cpu")
    checkpoints = Path(cfg.checkpoint_dir).expanduser() / key if cfg.checkpoint_dir else None
    out = checkpoints or Path(scratch) / "checkpoints"
    out.mkdir(parents=True, exist_ok=True)
    resume = get_last_checkpoint(str(out)) if checkpoints else None
    resumed_from = int(Path(resume).name.split("-")[-1]) if resume else 0
    steps = train_steps(cfg, len(frame))
    args = CrossEncoderTrainingArguments(
        output_dir=str(out),
        max_steps=steps,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.lr,
        warmup_steps=int(cfg.warmup_ratio * steps),
        weight_decay=cfg.weight_decay,
        save_strategy="steps" if checkpoints else "no",
        save_steps=cfg.checkpoint_steps,
        save_total_limit=1,
        logging_steps=max(1, min(50, steps // 10)),
        seed=seed,
        data_seed=seed,
        report_to="none",
        use_cpu=True,
        disable_tqdm=False,
    )
    budget = time_budget_callback(cfg.max_minutes, save=checkpoints is not None)
    trainer = CrossEncoderTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_pandas(frame.reset_index(drop=True), preserve_index=False),
        loss=BinaryCrossEntropyLoss(model),
        callbacks=[budget],
    )
    if resume:
        logger.info("cross-encoder: resuming from %s", resume)
    t0 = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - t0
    done = int(trainer.state.global_step)
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    logger.info(
        "cross-encoder: %d steps (from %d) in %.0fs, loss %.4f",
        done,
        resumed_from,
        seconds,
        output.training_loss,
    )
    out_dir = Path(out_dir)
    model.save_pretrained(str(out_dir))
    return {
        "fingerprint": key,
        "base_model": cfg.base_model,
        "steps": done,
        "planned_steps": steps,
        "resumed_from_step": resumed_from,
        "stopped_by_time": budget.hit,
        "train_seconds": round(seconds, 1),
        "pairs_per_second": round((done - resumed_from) * cfg.batch_size / max(seconds, 1e-9), 1),
        "final_loss": float(losses[-1]) if losses else None,
        "n_pairs": len(frame),
    }
