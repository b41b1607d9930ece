"""(Q)LoRA fine-tuning of the ranking LLM, listwise and pointwise (data: finetune/data.py).

On the CPU, plain LoRA on a bfloat16/float32 base (gemma3-270m trains at about 150
tokens/s on 2 cores); on CUDA the base is loaded in 4-bit NF4 through bitsandbytes and
LoRA trains on top (QLoRA; finetune/device.py). Training is trl's `SFTTrainer`
(finetune/trainer.py: the loss from the answer positions only) on prompt-completion pairs
built by `PromptBuilder`, the one prompt builder inference uses too, so the loss covers
only the answer and the tuned model sees at inference exactly what it learned. The
budget is a step count per scorer (`max_steps`, `pointwise_max_steps`), with an optional
wall-time cap (`max_minutes`).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shortlister.core.budget import time_budget_callback
from shortlister.core.cache import cache_dir
from shortlister.core.progress import progress_enabled
from shortlister.llm.finetune import report
from shortlister.llm.finetune.adapter import get_peft_config, save_adapter
from shortlister.llm.finetune.config import FinetuneConfig
from shortlister.llm.finetune.data import PromptSpec, to_prompt_completion
from shortlister.llm.finetune.device import (
    load_base_model,
    peak_memory,
    reset_peak_memory,
    resolve_device,
    resolve_quantization,
)
from shortlister.llm.finetune.trainer import completion_loss_trainer_class

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainPlan:
    """One scorer's optimisation budget: steps, batch and learning rate."""

    scorer: str
    max_steps: int
    batch_size: int
    gradient_accumulation_steps: int
    learning_rate: float

    @classmethod
    def of(cls, cfg: FinetuneConfig, scorer: str) -> TrainPlan:
        if scorer == "pointwise":
            return cls(scorer, cfg.pointwise_max_steps, cfg.pointwise_batch_size, 1,
                       cfg.pointwise_learning_rate)  # fmt: skip
        return cls(scorer, cfg.max_steps, cfg.per_device_train_batch_size,
                   cfg.gradient_accumulation_steps, cfg.learning_rate)  # fmt: skip


def sft_config(
    cfg: FinetuneConfig, device: str, output_dir: str, has_eval: bool, plan: TrainPlan | None = None
):
    import torch
    from trl import SFTConfig

    plan = plan or TrainPlan.of(cfg, "listwise")
    bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
    return SFTConfig(
        output_dir=output_dir,
        max_steps=plan.max_steps,
        per_device_train_batch_size=plan.batch_size,
        per_device_eval_batch_size=plan.batch_size,
        gradient_accumulation_steps=plan.gradient_accumulation_steps,
        learning_rate=plan.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay,
        max_length=cfg.max_length,
        completion_only_loss=True,
        # transformers 5 name of gradient_checkpointing (trl defaults that one to True)
        activation_checkpointing=cfg.gradient_checkpointing and device == "cuda",
        bf16=bf16,
        use_cpu=device == "cpu",
        seed=cfg.seed,
        data_seed=cfg.seed,
        logging_steps=cfg.logging_steps,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=cfg.eval_steps,
        save_strategy="no",
        report_to="none",  # MLflow is logged by the stage, in its own run tree
        disable_tqdm=not progress_enabled(),  # the step bar, under `dvc repro` too
        include_num_input_tokens_seen="non_padding",
        prediction_loss_only=True,
        dataloader_num_workers=0,
    )


def train_adapter(
    cfg: FinetuneConfig,
    train_records: Sequence[Mapping[str, Any]],
    val_records: Sequence[Mapping[str, Any]],
    out_dir: str | Path,
    prompt: PromptSpec,
    scorer: str = "listwise",
    model_cache: str | Path | None = None,  # None: the built-in default, like llm.model_cache
) -> dict[str, Any]:
    """Train LoRA (QLoRA when 4-bit) with trl's SFTTrainer; save adapter + tokenizer to `out_dir`.

    Records become prompt-completion pairs through `prompt.builder(tokenizer)`, the same
    `PromptBuilder` inference uses. Returns losses, the loss curve, tokens/s, peak memory
    and parameter counts.
    """
    from datasets import Dataset
    from transformers import set_seed

    if not train_records:
        raise ValueError("train_adapter: no training records")
    device = resolve_device(cfg)
    set_seed(cfg.seed)  # LoRA's A matrices are initialised randomly
    reset_peak_memory(device)
    model, tokenizer = load_base_model(cfg, device, model_cache or cache_dir("models"))
    builder = prompt.builder(tokenizer)
    plan = TrainPlan.of(cfg, scorer)

    def pairs(records: Sequence[Mapping[str, Any]]):
        return Dataset.from_list([to_prompt_completion(r, builder) for r in records])

    train_ds = pairs(train_records)
    val_ds = pairs(val_records[: cfg.max_eval_records]) if val_records else None
    budget = time_budget_callback(cfg.max_minutes)
    with tempfile.TemporaryDirectory(prefix="shortlister-sft-") as scratch:
        trainer = completion_loss_trainer_class()(
            model=model,
            args=sft_config(cfg, device, scratch, val_ds is not None, plan),
            train_dataset=train_ds,
            eval_dataset=val_ds,
            processing_class=tokenizer,
            peft_config=get_peft_config(cfg),
            callbacks=[budget],
        )
        trainable, total = report.parameter_counts(trainer.model)
        logger.info(
            "fine-tuning %s on %s (%s): %d trainable of %d parameters, %d train / %d val prompts",
            cfg.base_model,
            device,
            resolve_quantization(cfg, device),
            trainable,
            total,
            len(train_ds),
            len(val_ds) if val_ds is not None else 0,
        )
        t0 = time.perf_counter()
        output = trainer.train()
        seconds = time.perf_counter() - t0
        eval_loss = report.eval_loss(trainer, val_ds is not None)
        out = Path(out_dir)
        save_adapter(trainer.model, tokenizer, out, cfg.base_model, scorer)
    history = trainer.state.log_history
    return {
        "scorer": scorer,
        "device": device,
        "quantization": resolve_quantization(cfg, device),
        "base_model": cfg.base_model,
        "prompt_format": builder.format,
        "steps": int(output.global_step),
        "max_steps": plan.max_steps,
        "stopped_by_time_budget": budget.hit,
        "train_loss": float(output.training_loss),
        "final_train_loss": report.last_logged(history, "loss"),
        "eval_loss": eval_loss,
        **report.throughput(int(trainer.state.num_input_tokens_seen), seconds),
        **peak_memory(device),
        "trainable_params": trainable,
        "total_params": total,
        "n_train_records": len(train_records),
        "n_val_records": len(val_records),
        "curve": report.loss_curve(history),
        "adapter_dir": str(out),
    }
