"""The `llm` params section as typed, validated dataclasses (conf/llm/default.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shortlister.core.cache import cache_dir
from shortlister.core.checks import build, check_choice, check_int
from shortlister.core.errors import ConfigError
from shortlister.llm.finetune.adapter import trained_adapter

BACKENDS = ("transformers", "openai")
SCORERS = ("listwise", "pointwise")
PROMPT_FORMATS = ("auto", "chat", "completion")
ENDPOINTS = ("chat", "completions")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class OpenAIConfig:
    """An OpenAI-compatible chat completions API (Groq by default)."""

    base_url: str = "https://api.groq.com/openai/v1"
    # When this variable is set it replaces base_url (--llm-base-url beats both); null: ignore
    base_url_env: str | None = "OPENAI_BASE_URL"
    model: str = "llama-3.1-8b-instant"
    # The key comes from this variable, else from $OPENAI_API_KEY; a server on
    # 127.0.0.1/localhost needs neither
    api_key_env: str = "GROQ_API_KEY"
    # chat: /chat/completions with messages (instruct models); completions: /completions with
    # the completion prompt (base models without a chat template, e.g. gemma3-270m)
    endpoint: str = "chat"
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
        check_choice("llm.openai.endpoint", self.endpoint, ENDPOINTS)
        if not self.api_key_env.strip():
            raise ConfigError("llm.openai.api_key_env: expected an environment variable name")
        if self.base_url_env is not None and not self.base_url_env.strip():
            raise ConfigError(
                "llm.openai.base_url_env: expected an environment variable name or null"
            )
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
    max_queries: int | None = 5  # per dataset, first by query id; None: all
    scorers: list[str] = field(default_factory=lambda: list(SCORERS))

    def __post_init__(self) -> None:
        if not self.scorers or any(s not in SCORERS for s in self.scorers):
            raise ConfigError(
                f"llm.evaluation.scorers: expected some of {list(SCORERS)}, got {self.scorers!r}"
            )
        if self.max_queries is not None:
            check_int("llm.evaluation.max_queries", self.max_queries, minimum=1)


@dataclass
class PointwiseConfig:
    """The pointwise scorer: log P(yes) - log P(no) of one (role, headline) pair."""

    prompt: str = (
        "Target role: {query}\nCandidate headline: {title}\n"
        "Does the candidate fit the target role? Answer Yes or No."
    )
    answer_prefix: str = "Answer:"
    positive: str = "Yes"  # log P(positive) - log P(negative) is the score
    negative: str = "No"
    batch_size: int = 16  # pairs per forward pass (llm.depth says how many are re-scored)

    def __post_init__(self) -> None:
        for name in ("query", "title"):
            if "{" + name + "}" not in self.prompt:
                raise ConfigError(f"llm.pointwise.prompt: expected a {{{name}}} placeholder")
        if not self.positive.strip() or not self.negative.strip() or self.positive == self.negative:
            raise ConfigError(
                "llm.pointwise: expected two different non-empty answers positive/negative"
            )
        check_int("llm.pointwise.batch_size", self.batch_size, minimum=1)


@dataclass
class LLMConfig:
    backend: str = "transformers"
    # A packaged model (gemma3-270m), a .gguf file, a hub id or a local folder.
    model: str | None = "gemma3-270m"
    # GGUF files are converted once into bfloat16 safetensors folders here, keyed by sha256
    # (in the repository's .cache/; $SHORTLISTER_CACHE/models when that is set).
    model_cache: str = field(default_factory=lambda: cache_dir("models"))
    # A peft LoRA adapter folder on top of `model`; auto: <adapters_dir>/<scorer> when the
    # finetune stage trained one there, else the base model.
    adapter: str | None = "auto"
    adapters_dir: str = "models/finetune"
    scorer: str = "pointwise"  # listwise (generate a ranking) | pointwise (score each pair)
    # auto: chat when the tokenizer has a chat template, else a completion prompt that
    # ends in the answer prefix (base models)
    prompt_format: str = "auto"
    stop: list[str] = field(default_factory=lambda: ["\n"])  # completion prompts end here
    device: str = "auto"
    dtype: str = "auto"  # auto: bfloat16 on CUDA, float32 on CPU
    max_new_tokens: int = 64
    batch_size: int = 4
    do_sample: bool = False  # greedy by default: the same prompt gives the same ranking
    temperature: float | None = None  # only with do_sample
    # Qwen3: no <think> reasoning before the answer (other templates ignore the flag).
    chat_template_kwargs: dict[str, Any] = field(default_factory=lambda: {"enable_thinking": False})
    # Listwise re-ranking: the top `depth` of the first stage, `window` at a time, `step` up.
    window: int = 10
    step: int = 5
    depth: int = 10
    first_stage: str = "ranknet"
    first_stage_fallback: str | None = "sbert"
    openai: OpenAIConfig = field(default_factory=OpenAIConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    prompt: dict[str, Any] = field(default_factory=dict)
    pointwise: PointwiseConfig = field(default_factory=PointwiseConfig)
    # seconds the service waits for the LLM before answering with the first stage's order
    serve_timeout_s: float = 20.0

    def __post_init__(self) -> None:
        for name, choices in (("backend", BACKENDS), ("scorer", SCORERS),
                              ("prompt_format", PROMPT_FORMATS), ("device", DEVICES),
                              ("dtype", DTYPES)):  # fmt: skip
            check_choice(f"llm.{name}", getattr(self, name), choices)
        if self.window < 2 or not 1 <= self.step < self.window or self.depth < 1:
            raise ConfigError(
                "llm: expected window >= 2, 1 <= step < window and depth >= 1, got "
                f"window={self.window}, step={self.step}, depth={self.depth}"
            )
        check_int("llm.max_new_tokens", self.max_new_tokens, minimum=1)
        check_int("llm.batch_size", self.batch_size, minimum=1)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | LLMConfig | None) -> LLMConfig:
        """From `llm.*` (an LLMConfig passes through); unknown keys are refused by path."""
        if isinstance(cfg, LLMConfig):
            return cfg
        cfg = dict(cfg or {})
        cfg["openai"] = build(OpenAIConfig, cfg.get("openai"), "llm.openai")
        cfg["evaluation"] = build(EvaluationConfig, cfg.get("evaluation"), "llm.evaluation")
        cfg["pointwise"] = build(PointwiseConfig, cfg.get("pointwise"), "llm.pointwise")
        return build(cls, cfg, "llm")

    @property
    def model_name(self) -> str | None:
        """The model the configured backend calls."""
        return self.openai.model if self.backend == "openai" else self.model

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def adapter_path(self, scorer: str | None = None) -> str | None:
        """The adapter to load for `scorer` (default: this config's), None for the base model.

        auto: the finetune stage's adapter for the scorer, when it was trained on this
        `model` (its ADAPTER_BASE_FILE says on which); an adapter of another base model
        would not fit.
        """
        if self.adapter != "auto":
            return self.adapter
        return trained_adapter(Path(self.adapters_dir) / (scorer or self.scorer), self.model)
