"""LLM backends behind one interface: local transformers models and OpenAI-compatible APIs.

    backend = build_backend(params["llm"])
    [gen] = backend.generate([messages])     # gen.text, gen.latency_s, token counts

`backend_available(cfg)` says whether a backend can run here without downloading
anything, and why not, so the pipeline can skip with a reason instead of failing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from shortlister.core.errors import ConfigError, ShortlisterError
from shortlister.llm.config import LLMConfig
from shortlister.llm.models import hf_offline, model_available, resolve_model
from shortlister.llm.prompts import PromptBuilder, PromptTemplate

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


# --------------------------------------------------------------------------- transformers


class LocalModel:
    """A causal LM loaded once for inference: model, left-padding tokenizer and device.

    `model` is a packaged name, a .gguf file (converted once, shortlister.llm.models), a
    hub id or a folder; `adapter` a peft LoRA adapter folder loaded on top.
    """

    def __init__(self, cfg: LLMConfig, adapter: str | None = None) -> None:
        if not cfg.model:
            raise ConfigError("llm.model: expected a model name, .gguf file, hub id or folder")
        self.source = resolve_model(cfg.model, cfg.model_cache)
        self.adapter = adapter
        self.name = f"transformers:{cfg.model}" + (f"+{adapter}" if adapter else "")
        self.device = resolve_device(cfg.device)
        self.tokenizer = load_tokenizer(self.source)
        self.model = load_model(self.source, cfg.dtype, self.device, adapter)


class TransformersBackend:
    """Listwise generation with a local model (`LocalModel`), prompted by `PromptBuilder`."""

    def __init__(self, cfg: LLMConfig, adapter: str | None = None, lm: LocalModel | None = None):
        self.cfg = cfg
        self.lm = lm or LocalModel(
            cfg, adapter if adapter is not None else cfg.adapter_path("listwise")
        )
        self.name, self.tokenizer, self.model = self.lm.name, self.lm.tokenizer, self.lm.model
        self.device = self.lm.device
        template = PromptTemplate.from_config(cfg.prompt)
        self.builder = PromptBuilder(
            template.answer_prefix, cfg.prompt_format, self.tokenizer, cfg.chat_template_kwargs
        )

    def render(self, messages: Messages) -> str:
        return self.builder.prompt(messages)

    def generate(self, batch: list[Messages]) -> list[Generation]:
        out: list[Generation] = []
        size = self.cfg.batch_size
        for start in range(0, len(batch), size):
            out.extend(self._generate_chunk(batch[start : start + size]))
        return out

    def _generate_chunk(self, chunk: list[Messages]) -> list[Generation]:
        import torch

        prompts = [self.render(m) for m in chunk]
        enc = self.tokenizer(
            prompts,
            return_tensors="pt",
            padding=True,
            add_special_tokens=self.builder.add_special_tokens,
        )
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
                text=self.builder.answer(cut_at_stop(text, self._stops())),
                latency_s=elapsed / len(chunk),
                prompt_tokens=int(n_prompt),
                completion_tokens=int((row != pad).sum()) if pad is not None else len(row),
            )
            for text, n_prompt, row in zip(texts, prompt_lens, new, strict=True)
        ]

    def _stops(self) -> list[str]:
        """Completion prompts stop at the end of the answer line (a base model rambles on)."""
        return list(self.cfg.stop) if self.builder.format == "completion" else []

    def _generation_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.cfg.max_new_tokens,
            "do_sample": self.cfg.do_sample,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if self._stops():
            kwargs.update(stop_strings=self._stops(), tokenizer=self.tokenizer)
        if self.cfg.do_sample:
            if self.cfg.temperature is not None:
                kwargs["temperature"] = self.cfg.temperature
        else:
            # Hub models ship sampling defaults (Qwen3: temperature 0.6); greedy ignores them.
            kwargs.update(temperature=None, top_p=None, top_k=None)
        return kwargs


def cut_at_stop(text: str, stops: list[str]) -> str:
    """`text` up to its first stop string (a batch runs on until every row has stopped)."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=len(text))
    return text[:cut]


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


def load_model(source: str, dtype: str, device: str, adapter: str | None = None):
    from transformers import AutoModelForCausalLM

    logger.info("loading %s on %s", source, device)
    model = AutoModelForCausalLM.from_pretrained(
        source, dtype=resolve_dtype(dtype, device), local_files_only=hf_offline()
    )
    if adapter:
        from peft import PeftModel

        path = Path(adapter)
        if not (path / "adapter_config.json").is_file():
            raise ConfigError(
                f"llm.adapter: {path} has no adapter_config.json (not a peft adapter)"
            )
        logger.info("loading LoRA adapter %s", path)
        model = PeftModel.from_pretrained(model, str(path))
    return model.to(device).eval()


# --------------------------------------------------------------------------- factory


def build_backend(cfg: Mapping[str, Any] | LLMConfig) -> LLMBackend:
    """The backend the `llm` section names (`backend: transformers | openai`)."""
    cfg = LLMConfig.from_config(cfg)
    if cfg.backend == "openai":
        from shortlister.llm.openai_api import OpenAIBackend

        return OpenAIBackend(cfg)
    return TransformersBackend(cfg)


def backend_available(cfg: Mapping[str, Any] | LLMConfig) -> tuple[bool, str]:
    """(True, what will run) or (False, why not); never downloads or calls anything."""
    cfg = LLMConfig.from_config(cfg)
    if cfg.backend == "openai":
        from shortlister.llm.openai_api import openai_available

        return openai_available(cfg.openai)
    if not cfg.model:
        return False, "no model configured (llm.model is null)"
    ok, reason = model_available(cfg.model, cfg.model_cache)
    adapter = cfg.adapter_path()
    if ok and adapter and not (Path(adapter) / "adapter_config.json").is_file():
        return False, f"adapter {adapter} not found (no adapter_config.json)"
    return ok, reason
