"""The `llm` params section as typed, validated dataclasses (conf/llm/default.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from shortlister.errors import ConfigError

BACKENDS = ("transformers", "openai")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16", "float16")


def _build(cls: type, cfg: Mapping[str, Any] | None, where: str) -> Any:
    """`cls(**cfg)`, with unknown keys reported by their params path."""
    cfg = dict(cfg or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(cfg) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; expected some of {sorted(known)}")
    return cls(**cfg)


@dataclass
class OpenAIConfig:
    """An OpenAI-compatible chat completions API (Groq by default)."""

    base_url: str = "https://api.groq.com/openai/v1"
    model: str = "llama-3.1-8b-instant"
    api_key_env: str = "GROQ_API_KEY"
    timeout_s: float = 60.0
    max_retries: int = 4  # retries after the first attempt
    backoff_s: float = 1.0  # first retry waits about this long, doubling each time
    max_backoff_s: float = 30.0  # cap on one wait, Retry-After included
    temperature: float = 0.0
    max_tokens: int | None = None  # None: llm.max_new_tokens
    extra_body: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"llm.openai.base_url: expected an http(s) URL, got {self.base_url!r}"
            )
        if not self.api_key_env.strip():
            raise ConfigError("llm.openai.api_key_env: expected an environment variable name")
        if self.timeout_s <= 0 or self.max_retries < 0 or self.backoff_s < 0:
            raise ConfigError(
                "llm.openai: expected timeout_s > 0, max_retries >= 0 and backoff_s >= 0, got "
                f"{self.timeout_s}, {self.max_retries}, {self.backoff_s}"
            )


@dataclass
class EvaluationConfig:
    """Which queries the `llm` stage re-ranks (bounded: LLM calls are slow on a CPU)."""

    datasets: list[str] = field(default_factory=lambda: ["default"])
    splits: list[str] = field(default_factory=lambda: ["test"])
    max_queries: int | None = 10  # per dataset, first by query id; None: all

    def __post_init__(self) -> None:
        if self.max_queries is not None and self.max_queries < 1:
            raise ConfigError(f"llm.evaluation.max_queries: expected >= 1, got {self.max_queries}")


@dataclass
class LLMConfig:
    backend: str = "transformers"
    model: str | None = "Qwen/Qwen3-0.6B"  # hub id or local folder (transformers backend)
    adapter: str | None = None  # a peft LoRA adapter folder loaded on top of `model`
    device: str = "auto"
    dtype: str = "auto"  # auto: bfloat16 on CUDA, float32 on CPU
    max_new_tokens: int = 160
    batch_size: int = 4
    do_sample: bool = False  # greedy by default: the same prompt gives the same ranking
    temperature: float | None = None  # only with do_sample
    # Qwen3: no <think> reasoning before the answer (other templates ignore the flag).
    chat_template_kwargs: dict[str, Any] = field(default_factory=lambda: {"enable_thinking": False})
    # Listwise re-ranking: the top `depth` of the first stage, `window` at a time, `step` up.
    window: int = 10
    step: int = 5
    depth: int = 20
    first_stage: str = "ranknet"
    first_stage_fallback: str | None = "sbert"
    openai: OpenAIConfig = field(default_factory=OpenAIConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    prompt: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check_choice("backend", BACKENDS)
        self._check_choice("device", DEVICES)
        self._check_choice("dtype", DTYPES)
        if self.window < 2 or not 1 <= self.step < self.window or self.depth < 1:
            raise ConfigError(
                "llm: expected window >= 2, 1 <= step < window and depth >= 1, got "
                f"window={self.window}, step={self.step}, depth={self.depth}"
            )
        if self.max_new_tokens < 1 or self.batch_size < 1:
            raise ConfigError("llm: expected max_new_tokens >= 1 and batch_size >= 1")

    def _check_choice(self, name: str, choices: tuple[str, ...]) -> None:
        value = getattr(self, name)
        if value not in choices:
            raise ConfigError(f"llm.{name}: expected one of {list(choices)}, got {value!r}")

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any] | LLMConfig | None) -> LLMConfig:
        if isinstance(cfg, LLMConfig):
            return cfg
        cfg = dict(cfg or {})
        cfg["openai"] = _build(OpenAIConfig, cfg.get("openai"), "llm.openai")
        cfg["evaluation"] = _build(EvaluationConfig, cfg.get("evaluation"), "llm.evaluation")
        return _build(cls, cfg, "llm")

    @property
    def model_name(self) -> str | None:
        """The model the configured backend calls."""
        return self.openai.model if self.backend == "openai" else self.model

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
