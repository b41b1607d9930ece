"""Where fine-tuning runs and in what precision: device, dtype, 4-bit quantisation, memory.

`auto` trains on CUDA when torch sees a GPU, else on the CPU; on CUDA the base model is
loaded in 4-bit NF4 through bitsandbytes (QLoRA), on the CPU in float32 (plain LoRA).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from shortlister.core.errors import ConfigError
from shortlister.llm.finetune.config import FinetuneConfig


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def device_ready(cfg: FinetuneConfig) -> tuple[bool, str]:
    """(True, the device to train on) or (False, why the configured device cannot train)."""
    if cfg.device == "cuda" and not cuda_available():
        return False, "finetune.device=cuda but torch.cuda.is_available() is False"
    if cfg.device == "auto":
        return True, "cuda" if cuda_available() else "cpu"
    return True, cfg.device


def resolve_device(cfg: FinetuneConfig) -> str:
    """The device to train on; ConfigError when the configured one is not there."""
    ready, device = device_ready(cfg)
    if not ready:
        raise ConfigError(device)
    return device


def resolve_quantization(cfg: FinetuneConfig, device: str) -> str:
    if cfg.quantization == "auto":
        return "4bit" if device == "cuda" else "none"
    return cfg.quantization


def torch_dtype(name: str):
    import torch

    return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[name]


def model_dtype(cfg: FinetuneConfig, device: str):
    if cfg.dtype != "auto":
        return torch_dtype(cfg.dtype)
    return torch_dtype("bfloat16" if device == "cuda" else "float32")


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
        bnb_4bit_compute_dtype=torch_dtype(cfg.bnb_4bit_compute_dtype),
        bnb_4bit_quant_storage=torch_dtype(cfg.bnb_4bit_compute_dtype),
    )


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


def reset_peak_memory(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats()


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
