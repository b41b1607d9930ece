"""`finetune.*` params as one validated dataclass (conf/finetune/default.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from shortlister.core.checks import build, check_choice, check_int, check_number
from shortlister.core.errors import ConfigError

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
        for name, choices in (("device", DEVICES), ("quantization", QUANTIZATIONS),
                              ("bnb_4bit_quant_type", QUANT_TYPES),
                              ("bnb_4bit_compute_dtype", DTYPES[1:]), ("dtype", DTYPES),
                              ("negatives_from", NEGATIVE_SOURCES)):  # fmt: skip
            check_choice(_key(name), getattr(self, name), choices)
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
            check_int(_key(name), getattr(self, name), minimum=1)
        check_int(_key("validation_prompts_per_query"), self.validation_prompts_per_query)
        check_int(_key("seed"), self.seed)
        if self.max_minutes is not None:
            check_number(_key("max_minutes"), self.max_minutes, low=1e-3)
        if not self.scorers or any(s not in SCORERS for s in self.scorers):
            raise ConfigError(
                f"finetune.scorers: expected a non-empty list of {list(SCORERS)}, "
                f"got {self.scorers!r}"
            )
        self.scorers = list(dict.fromkeys(self.scorers))
        for name in ("lora_dropout", "negatives_ratio"):
            check_number(_key(name), getattr(self, name), low=0.0, high=1.0, high_open=True)
        for name in ("weight_decay", "warmup_steps"):
            check_number(_key(name), getattr(self, name), low=0.0)
        for name in ("learning_rate", "pointwise_learning_rate"):
            check_number(_key(name), getattr(self, name), low=0, high=1, low_open=True,
                         high_open=True)  # fmt: skip
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
        return build(cls, {**dict(cfg or {}), **overrides}, "finetune")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _key(name: str) -> str:
    return f"finetune.{name}"
