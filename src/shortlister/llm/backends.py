"""LLM backends behind one interface: local transformers models and OpenAI-compatible APIs.

    backend = build_backend(params["llm"])
    [gen] = backend.generate([messages])     # gen.text, gen.latency_s, token counts

`backend_available(cfg)` says whether a backend can run here without downloading
anything, and why not, so the pipeline can skip with a reason instead of failing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from shortlister.errors import ConfigError, ShortlisterError
from shortlister.llm.config import LLMConfig

logger = logging.getLogger(__name__)

Messages = list[dict[str, str]]


class LLMError(ShortlisterError, RuntimeError):
    """A backend failed to answer (after its retries), or answered in an unexpected shape."""


@dataclass
class Generation:
    text: str
    latency_s: float  # wall time of the call; a batch's time is shared by its prompts
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class LLMBackend(Protocol):
    name: str

    def generate(self, batch: list[Messages]) -> list[Generation]: ...

    def render(self, messages: Messages) -> str:
        """The prompt exactly as the model sees it (for logs and MLflow)."""
        ...


def hf_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


# --------------------------------------------------------------------------- transformers


class TransformersBackend:
    """A local causal LM (hub id or folder), optionally with a peft LoRA adapter on top."""

    def __init__(self, cfg: LLMConfig) -> None:
        if not cfg.model:
            raise ConfigError("llm.model: expected a hub id or a local model folder, got none")
        self.cfg = cfg
        self.name = f"transformers:{cfg.model}" + (f"+{cfg.adapter}" if cfg.adapter else "")
        self.device = resolve_device(cfg.device)
        self.tokenizer = load_tokenizer(cfg.model)
        self.model = load_model(cfg, self.device)
        self._warned_template = False

    def render(self, messages: Messages) -> str:
        tok = self.tokenizer
        if not getattr(tok, "chat_template", None):
            if not self._warned_template:
                logger.warning("%s has no chat template; plain text prompt", self.cfg.model)
                self._warned_template = True
            return "\n\n".join(m["content"] for m in messages) + "\n\n"
        kwargs = dict(tokenize=False, add_generation_prompt=True, **self.cfg.chat_template_kwargs)
        try:
            return tok.apply_chat_template(messages, **kwargs)
        except Exception as exc:  # jinja raises TemplateError for roles it does not know
            if messages and messages[0]["role"] == "system":
                logger.info("chat template rejected the system turn (%s); folding it in", exc)
                return tok.apply_chat_template(fold_system(messages), **kwargs)
            raise

    def generate(self, batch: list[Messages]) -> list[Generation]:
        out: list[Generation] = []
        size = self.cfg.batch_size
        for start in range(0, len(batch), size):
            out.extend(self._generate_chunk(batch[start : start + size]))
        return out

    def _generate_chunk(self, chunk: list[Messages]) -> list[Generation]:
        import torch

        prompts = [self.render(m) for m in chunk]
        # The chat template already wrote BOS where the model wants one.
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        t0 = time.perf_counter()
        with torch.inference_mode():
            output = self.model.generate(**enc, **self._generation_kwargs())
        elapsed = time.perf_counter() - t0
        new = output[:, enc["input_ids"].shape[1] :]
        texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        prompt_lens = enc["attention_mask"].sum(dim=1).tolist()
        pad = self.tokenizer.pad_token_id
        return [
            Generation(
                text=text,
                latency_s=elapsed / len(chunk),
                prompt_tokens=int(n_prompt),
                completion_tokens=int((row != pad).sum()) if pad is not None else len(row),
            )
            for text, n_prompt, row in zip(texts, prompt_lens, new, strict=True)
        ]

    def _generation_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.cfg.max_new_tokens,
            "do_sample": self.cfg.do_sample,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if self.cfg.do_sample:
            if self.cfg.temperature is not None:
                kwargs["temperature"] = self.cfg.temperature
        else:
            # Hub models ship sampling defaults (Qwen3: temperature 0.6); greedy ignores them.
            kwargs.update(temperature=None, top_p=None, top_k=None)
        return kwargs


def fold_system(messages: Messages) -> Messages:
    """The system turn prepended to the first user turn (for templates without a system role)."""
    system, rest = messages[0]["content"], [dict(m) for m in messages[1:]]
    if rest and rest[0]["role"] == "user":
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
        return rest
    return [{"role": "user", "content": system}, *rest]


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("llm.device: cuda requested but torch sees no CUDA device")
    return device


def resolve_dtype(dtype: str, device: str):
    import torch

    if dtype == "auto":
        if device == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return getattr(torch, dtype)


def load_tokenizer(model: str):
    from transformers import AutoTokenizer

    # Left padding: generation continues every prompt of a batch from its last token.
    tok = AutoTokenizer.from_pretrained(model, padding_side="left", local_files_only=hf_offline())
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(cfg: LLMConfig, device: str):
    from transformers import AutoModelForCausalLM

    logger.info("loading %s on %s", cfg.model, device)
    model = AutoModelForCausalLM.from_pretrained(
        cfg.model, dtype=resolve_dtype(cfg.dtype, device), local_files_only=hf_offline()
    )
    if cfg.adapter:
        from peft import PeftModel

        adapter = Path(cfg.adapter)
        if not (adapter / "adapter_config.json").is_file():
            raise ConfigError(
                f"llm.adapter: {adapter} has no adapter_config.json (not a peft adapter)"
            )
        logger.info("loading LoRA adapter %s", adapter)
        model = PeftModel.from_pretrained(model, str(adapter))
    return model.to(device).eval()


# --------------------------------------------------------------------------- factory


def build_backend(cfg: Mapping[str, Any] | LLMConfig) -> LLMBackend:
    """The backend the `llm` section names (`backend: transformers | openai`)."""
    cfg = LLMConfig.from_mapping(cfg)
    if cfg.backend == "openai":
        from shortlister.llm.openai_api import OpenAIBackend

        return OpenAIBackend(cfg)
    return TransformersBackend(cfg)


def backend_available(cfg: Mapping[str, Any] | LLMConfig) -> tuple[bool, str]:
    """(True, what will run) or (False, why not); never downloads or calls anything."""
    cfg = LLMConfig.from_mapping(cfg)
    if cfg.backend == "openai":
        if not os.environ.get(cfg.openai.api_key_env, "").strip():
            return False, f"environment variable {cfg.openai.api_key_env} is not set"
        return True, f"{cfg.openai.model} at {cfg.openai.base_url}"
    if not cfg.model:
        return False, "no model configured (llm.model is null)"
    ok, reason = _model_available(cfg.model)
    if ok and cfg.adapter and not (Path(cfg.adapter) / "adapter_config.json").is_file():
        return False, f"adapter {cfg.adapter} not found (no adapter_config.json)"
    return ok, reason


def _model_available(model: str) -> tuple[bool, str]:
    path = Path(model).expanduser()
    if path.exists():
        if (path / "config.json").is_file():
            return True, f"local folder {path}"
        return False, f"{path} is not a model folder (no config.json)"
    if model.startswith((".", "/", "~")) or model.count("/") > 1:
        return False, f"model folder {model} does not exist"
    from huggingface_hub import constants, try_to_load_from_cache

    cached = try_to_load_from_cache(model, "config.json")
    if isinstance(cached, str):
        return True, f"{model} from the Hugging Face cache"
    if hf_offline():
        return False, (
            f"{model} is not a local folder and not in the Hugging Face cache "
            f"({constants.HF_HUB_CACHE}) and HF_HUB_OFFLINE=1 forbids downloading it; "
            f"download it once online (`hf download {model}`) or set llm.model to a folder"
        )
    return True, f"{model} (will be downloaded from the Hugging Face hub)"
