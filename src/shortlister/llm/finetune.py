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
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from shortlister.errors import ConfigError

logger = logging.getLogger(__name__)

DEVICES = ("auto", "cuda", "cpu")
QUANTIZATIONS = ("auto", "4bit", "none")
QUANT_TYPES = ("nf4", "fp4")
DTYPES = ("auto", "bfloat16", "float16", "float32")
NEGATIVE_SOURCES = ("first_stage", "random")
SPLITS = ("train", "validation")
SCORERS = ("listwise", "pointwise")
# All linear layers of a Gemma/Llama-style decoder block (the QLoRA paper's choice).
DEFAULT_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class FinetuneConfig:
    """`finetune.*` in params.yaml; every field is checked when the config is built."""

    # model and hardware
    # which re-rankers to train, each into <output_dir>/<scorer>/
    scorers: list[str] = field(default_factory=lambda: ["listwise", "pointwise"])
    # a packaged model (gemma3-270m), a .gguf file, a hub id or a folder (llm.model's forms)
    base_model: str = "gemma3-270m"
    device: str = "auto"  # auto: cuda when available, else cpu
    quantization: str = "auto"  # auto: 4-bit on CUDA, none on CPU
    bnb_4bit_quant_type: str = "nf4"
    bnb_4bit_use_double_quant: bool = True
    bnb_4bit_compute_dtype: str = "bfloat16"
    dtype: str = "auto"  # auto: bfloat16 on CUDA, float32 on CPU
    # LoRA
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: list(DEFAULT_TARGETS))
    # optimisation
    learning_rate: float = 2e-4
    max_steps: int = 300
    per_device_train_batch_size: int = 4
    gradient_accumulation_steps: int = 4
    max_length: int = 1024
    warmup_steps: float = 0.05  # < 1: a share of max_steps
    lr_scheduler_type: str = "cosine"
    weight_decay: float = 0.0
    gradient_checkpointing: bool = True  # CUDA only
    logging_steps: int = 10
    eval_steps: int = 50
    seed: int = 13
    # wall-time cap per scorer's training (minutes; None: steps only). Steps are the budget
    # (the same adapter on every machine); the cap only stops a run on a much slower one.
    max_minutes: float | None = None
    max_eval_records: int = 8  # validation loss on at most this many records per scorer
    # pointwise: its own step budget and batches of short (role, headline) pairs
    pointwise_max_steps: int = 40
    pointwise_batch_size: int = 8
    pointwise_learning_rate: float = 3e-4
    pointwise_pairs_per_query: int = 16
    pointwise_min_grade: int = 2  # "Yes" from this grade up; "No": unjudged hard negatives
    # training data
    # = llm.window, and answer_k = window: the re-ranker asks each window to be fully ranked
    candidates_per_prompt: int = 10
    answer_k: int = 10
    negatives_ratio: float = 0.5
    negatives_from: str = "first_stage"
    first_stage: str = "sbert"
    first_stage_depth: int = 100
    prompts_per_query: int = 8
    validation_prompts_per_query: int = 2
    # where things go
    data_dir: str = "data/processed/finetune"
    output_dir: str = "models/finetune"

    def __post_init__(self) -> None:
        _choice("device", self.device, DEVICES)
        _choice("quantization", self.quantization, QUANTIZATIONS)
        _choice("bnb_4bit_quant_type", self.bnb_4bit_quant_type, QUANT_TYPES)
        _choice("bnb_4bit_compute_dtype", self.bnb_4bit_compute_dtype, DTYPES[1:])
        _choice("dtype", self.dtype, DTYPES)
        _choice("negatives_from", self.negatives_from, NEGATIVE_SOURCES)
        for name in (
            "lora_r",
            "lora_alpha",
            "max_steps",
            "per_device_train_batch_size",
            "gradient_accumulation_steps",
            "max_length",
            "logging_steps",
            "eval_steps",
            "candidates_per_prompt",
            "answer_k",
            "first_stage_depth",
            "prompts_per_query",
            "pointwise_max_steps",
            "pointwise_batch_size",
            "pointwise_pairs_per_query",
            "pointwise_min_grade",
            "max_eval_records",
        ):
            _positive_int(name, getattr(self, name))
        _non_negative_int("validation_prompts_per_query", self.validation_prompts_per_query)
        _non_negative_int("seed", self.seed)
        if self.max_minutes is not None:
            _in_range("max_minutes", self.max_minutes, 1e-3, math.inf)
        if not self.scorers or any(s not in SCORERS for s in self.scorers):
            raise ConfigError(
                f"finetune.scorers: expected a non-empty list of {list(SCORERS)}, "
                f"got {self.scorers!r}"
            )
        self.scorers = list(dict.fromkeys(self.scorers))
        _in_range("lora_dropout", self.lora_dropout, 0.0, 1.0, high_open=True)
        _in_range("negatives_ratio", self.negatives_ratio, 0.0, 1.0, high_open=True)
        _in_range("weight_decay", self.weight_decay, 0.0, math.inf)
        _in_range("warmup_steps", self.warmup_steps, 0.0, math.inf)
        for name in ("learning_rate", "pointwise_learning_rate"):
            lr = getattr(self, name)
            if not isinstance(lr, int | float) or isinstance(lr, bool) or not 0 < lr < 1:
                raise ConfigError(f"finetune.{name}: expected 0 < lr < 1, got {lr!r}")
        if self.answer_k > self.candidates_per_prompt:
            raise ConfigError(
                f"finetune.answer_k: expected <= candidates_per_prompt "
                f"({self.candidates_per_prompt}), got {self.answer_k}"
            )
        if (
            not isinstance(self.target_modules, list | tuple)
            or not self.target_modules
            or not all(isinstance(m, str) and m for m in self.target_modules)
        ):
            raise ConfigError(
                f"finetune.target_modules: expected a non-empty list of module names, "
                f"got {self.target_modules!r}"
            )
        self.target_modules = list(self.target_modules)
        for name in ("base_model", "first_stage", "data_dir", "output_dir"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ConfigError(f"finetune.{name}: expected a non-empty string")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None, **overrides: Any) -> FinetuneConfig:
        """From `finetune.*` (unknown keys are an error, so typos do not pass silently)."""
        values = {**dict(cfg or {}), **overrides}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"finetune: unknown keys {unknown}; expected some of {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _choice(name: str, value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ConfigError(f"finetune.{name}: expected one of {list(allowed)}, got {value!r}")


def _positive_int(name: str, value: Any) -> None:
    # bool is an int subclass; `max_steps: true` is a typo, not a step count
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"finetune.{name}: expected an integer >= 1, got {value!r}")


def _non_negative_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"finetune.{name}: expected an integer >= 0, got {value!r}")


def _in_range(name: str, value: Any, low: float, high: float, high_open: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and low <= value
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        bracket = ")" if high_open else "]"
        raise ConfigError(
            f"finetune.{name}: expected a number in [{low}, {high}{bracket}, got {value!r}"
        )


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


# --------------------------------------------------------------------------- benchmark models

# google/gemma-3-1b-it's text config: the shapes that set QLoRA's speed and memory.
GEMMA3_1B_DIMS = {
    "hidden_size": 1152,
    "num_hidden_layers": 26,
    "num_attention_heads": 4,
    "num_key_value_heads": 1,
    "head_dim": 256,
    "intermediate_size": 6912,
    "vocab_size": 262144,
    "sliding_window": 512,
    "max_position_embeddings": 32768,
}


def build_random_gemma3(
    out_dir: str | Path,
    dims: Mapping[str, int] | None = None,
    corpus: Sequence[str] = (),
    seed: int = 0,
) -> Path:
    """A random-weight Gemma-3 text model with `dims` (default: gemma-3-1b's) and a small
    local tokenizer, saved in bfloat16 to `out_dir`. No download: for throughput and memory
    measurements only, never for quality.
    """
    import torch
    from transformers import AutoModelForCausalLM, Gemma3TextConfig

    from shortlister.llm.tiny import build_tokenizer

    dims = dict(GEMMA3_1B_DIMS if dims is None else dims)
    tokenizer = build_tokenizer("gemma3", corpus, vocab_size=1024)
    if len(tokenizer) > dims["vocab_size"]:
        raise ValueError(f"vocab_size {dims['vocab_size']} < tokenizer size {len(tokenizer)}")
    config = Gemma3TextConfig(
        **dims,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    out = Path(out_dir)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def to_prompt_completion(record: Mapping[str, Any], builder: Any) -> dict[str, Any]:
    """A record's `messages` as trl's prompt-completion pair, built by `builder`.

    trl then masks the prompt (completion-only loss) whatever the chat template; its
    `assistant_only_loss` would need `{% generation %}` markers that most templates lack.
    """
    messages = list(record["messages"])
    if not messages or messages[-1]["role"] != "assistant":
        raise ValueError("training record: expected the last message to be the assistant's answer")
    return builder.training_example(messages[:-1], messages[-1]["content"])
