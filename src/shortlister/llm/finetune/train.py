"""(Q)LoRA fine-tuning of the ranking LLM, listwise and pointwise (data: finetune_data.py).

On the CPU, plain LoRA on a bfloat16/float32 base (gemma3-270m trains at about 150
tokens/s on 2 cores); on CUDA the base is loaded in 4-bit NF4 through bitsandbytes and
LoRA trains on top (QLoRA). Training is trl's `SFTTrainer` on prompt-completion pairs
built by `PromptBuilder`, the one prompt builder inference uses too, so the loss covers
only the answer and the tuned model sees at inference exactly what it learned. The
budget is a step count per scorer (`max_steps`, `pointwise_max_steps`), with an optional
wall-time cap (`max_minutes`).
"""

from __future__ import annotations

import json
import logging
import math
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shortlister.core.errors import ConfigError
from shortlister.llm.finetune.config import FinetuneConfig

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- devices


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(cfg: FinetuneConfig) -> str:
    if cfg.device == "auto":
        return "cuda" if cuda_available() else "cpu"
    if cfg.device == "cuda" and not cuda_available():
        raise ConfigError(
            "finetune.device: 'cuda' requested but torch.cuda.is_available() is False"
        )
    return cfg.device


def resolve_quantization(cfg: FinetuneConfig, device: str) -> str:
    if cfg.quantization == "auto":
        return "4bit" if device == "cuda" else "none"
    return cfg.quantization


def _torch_dtype(name: str):
    import torch

    return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[name]


def model_dtype(cfg: FinetuneConfig, device: str):
    if cfg.dtype != "auto":
        return _torch_dtype(cfg.dtype)
    return _torch_dtype("bfloat16" if device == "cuda" else "float32")


def get_quantization_config(cfg: FinetuneConfig, device: str = "cpu"):
    """A bitsandbytes 4-bit config (QLoRA's NF4 + double quantisation), or None for no quantisation.

    Building the config needs no GPU; loading a model with it does.
    """
    if resolve_quantization(cfg, device) == "none":
        return None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=cfg.bnb_4bit_quant_type,
        bnb_4bit_use_double_quant=cfg.bnb_4bit_use_double_quant,
        bnb_4bit_compute_dtype=_torch_dtype(cfg.bnb_4bit_compute_dtype),
        bnb_4bit_quant_storage=_torch_dtype(cfg.bnb_4bit_compute_dtype),
    )


def get_peft_config(cfg: FinetuneConfig):
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


# --------------------------------------------------------------------------- training


def load_base_model(cfg: FinetuneConfig, device: str, model_cache: str | Path):
    """The base model (4-bit when configured) and its tokenizer; GGUF/packaged names resolved."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from shortlister.llm.models import resolve_model

    source = resolve_model(cfg.base_model, model_cache)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    quant = get_quantization_config(cfg, device)
    kwargs: dict[str, Any] = {"dtype": model_dtype(cfg, device)}
    if quant is not None:
        kwargs["quantization_config"] = quant
    if device == "cuda":
        kwargs["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    return model, tokenizer


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


def completion_loss_trainer_class():
    """trl's SFTTrainer with the loss computed from the completion positions' logits only.

    The answer is a few tokens at the end of a 50-300-token prompt; the LM head over
    Gemma 3's 262k-token vocabulary at every prompt position (and trl's entropy and
    accuracy metrics over them) would cost most of a step for nothing. `logits_to_keep`
    asks the model for the logits of the batch's last positions, from the earliest
    completion token on; the loss is the same token-mean cross-entropy.
    """
    import torch
    import torch.nn.functional as F
    from trl import SFTTrainer

    class CompletionLossTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs["labels"]
            length = labels.shape[1]
            answer = labels != -100
            rows = answer.any(dim=1)
            first = int(answer.float().argmax(dim=1)[rows].min()) if bool(rows.any()) else length
            keep = min(length, max(2, length - first + 1))
            forward = {k: inputs[k] for k in ("input_ids", "attention_mask", "position_ids")
                       if k in inputs}  # fmt: skip
            outputs = model(**forward, use_cache=False, logits_to_keep=keep)
            logits = outputs.logits[:, :-1, :].float()
            target = labels[:, length - keep + 1 :]
            total = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="sum"
            )  # ignore_index -100: the prompt and padding
            count = num_items_in_batch if num_items_in_batch is not None else (target != -100).sum()
            loss = total / torch.as_tensor(count, device=total.device).clamp(min=1)
            return (loss, outputs) if return_outputs else loss

    return CompletionLossTrainer


def time_budget_callback(max_minutes: float | None):
    """A TrainerCallback that stops training once `max_minutes` have passed (None: never)."""
    from transformers import TrainerCallback

    class TimeBudget(TrainerCallback):
        def __init__(self) -> None:
            self.start = time.perf_counter()
            self.hit = False

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()  # the budget is for training, not set-up

        def on_step_end(self, args, state, control, **kwargs):
            if max_minutes is not None and time.perf_counter() - self.start > 60 * max_minutes:
                self.hit = True
                control.should_training_stop = True
            return control

    return TimeBudget()


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
        include_num_input_tokens_seen="non_padding",
        prediction_loss_only=True,
        dataloader_num_workers=0,
    )


@dataclass(frozen=True)
class PromptSpec:
    """How records become model text: `PromptBuilder`'s answer prefix, format and kwargs."""

    answer_prefix: str
    format: str = "auto"
    chat_template_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def builder(self, tokenizer: Any):
        from shortlister.llm.prompts import PromptBuilder

        return PromptBuilder(
            self.answer_prefix, self.format, tokenizer, dict(self.chat_template_kwargs)
        )


def train_adapter(
    cfg: FinetuneConfig,
    train_records: Sequence[Mapping[str, Any]],
    val_records: Sequence[Mapping[str, Any]],
    out_dir: str | Path,
    prompt: PromptSpec,
    scorer: str = "listwise",
    model_cache: str | Path = "~/.cache/shortlister/models",
) -> dict[str, Any]:
    """Train LoRA (QLoRA when 4-bit) with trl's SFTTrainer; save adapter + tokenizer to `out_dir`.

    Records become prompt-completion pairs through `prompt.builder(tokenizer)`, the same
    `PromptBuilder` inference uses. Returns losses, the loss curve, tokens/s, peak memory
    and parameter counts.
    """
    import torch
    from datasets import Dataset
    from transformers import set_seed

    if not train_records:
        raise ValueError("train_adapter: no training records")
    device = resolve_device(cfg)
    set_seed(cfg.seed)  # LoRA's A matrices are initialised randomly
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    model, tokenizer = load_base_model(cfg, device, model_cache)
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
        trainable, total = _parameter_counts(trainer.model)
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
        eval_loss = trainer.evaluate()["eval_loss"] if val_ds is not None else math.nan
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        trainer.model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        from shortlister.llm.config import ADAPTER_BASE_FILE

        (out / ADAPTER_BASE_FILE).write_text(
            json.dumps({"base_model": cfg.base_model, "scorer": scorer}, indent=2) + "\n"
        )
    tokens = int(trainer.state.num_input_tokens_seen)
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
        "final_train_loss": _last(trainer.state.log_history, "loss"),
        "eval_loss": float(eval_loss),
        "train_seconds": round(seconds, 3),
        "train_minutes": round(seconds / 60, 2),
        "tokens_seen": tokens,
        "tokens_per_second": round(tokens / seconds, 1) if seconds > 0 else math.nan,
        **peak_memory(device),
        "trainable_params": trainable,
        "total_params": total,
        "n_train_records": len(train_records),
        "n_val_records": len(val_records),
        "curve": _curve(trainer.state.log_history),
        "adapter_dir": str(out),
    }


def peak_memory(device: str) -> dict[str, Any]:
    """Peak GPU memory allocated by torch on CUDA; the process's peak RSS on CPU."""
    if device == "cuda":
        import torch

        return {
            "peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1),
            "peak_memory_kind": "torch.cuda.max_memory_allocated",
        }
    import resource  # Unix only, like the RSS figure itself

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is KiB on Linux, bytes on macOS
    mb = rss / 2**20 if sys.platform == "darwin" else rss / 2**10
    return {"peak_memory_mb": round(mb, 1), "peak_memory_kind": "process peak RSS"}


def _parameter_counts(model: Any) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return int(trainable), int(total)


def _last(history: Sequence[Mapping[str, Any]], key: str) -> float:
    values = [h[key] for h in history if key in h]
    return float(values[-1]) if values else math.nan


def _curve(history: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
    points = []
    for h in history:
        for key in ("loss", "eval_loss"):
            if key in h and "step" in h:
                points.append({"step": int(h["step"]), key: float(h[key])})
    return points


def to_prompt_completion(record: Mapping[str, Any], builder: Any) -> dict[str, Any]:
    """A record's `messages` as trl's prompt-completion pair, built by `builder`.

    trl then masks the prompt (completion-only loss) whatever the chat template; its
    `assistant_only_loss` would need `{% generation %}` markers that most templates lack.
    """
    messages = list(record["messages"])
    if not messages or messages[-1]["role"] != "assistant":
        raise ValueError("training record: expected the last message to be the assistant's answer")
    return builder.training_example(messages[:-1], messages[-1]["content"])
