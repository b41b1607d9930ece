"""A trained LoRA adapter: its peft config, and the folder it is saved to and read from.

Next to the adapter weights and the tokenizer, `ADAPTER_BASE_FILE` records the base model
and scorer it was trained for; `llm.adapter: auto` only loads an adapter onto that base.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shortlister.llm.finetune.config import FinetuneConfig

# written next to each adapter the finetune stage trains: {"base_model": <finetune.base_model>}
ADAPTER_BASE_FILE = "shortlister_base.json"


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


def save_adapter(model: Any, tokenizer: Any, out: Path, base_model: str, scorer: str) -> None:
    """The adapter weights, the tokenizer and ADAPTER_BASE_FILE, into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / ADAPTER_BASE_FILE).write_text(
        json.dumps({"base_model": base_model, "scorer": scorer}, indent=2) + "\n"
    )


def trained_adapter(path: str | Path, model: str | None) -> str | None:
    """`path` when it holds an adapter trained on `model` (its ADAPTER_BASE_FILE says which
    base), else None: an adapter of another base model would not fit."""
    path = Path(path)
    if not (path / "adapter_config.json").is_file():
        return None
    try:
        base = json.loads((path / ADAPTER_BASE_FILE).read_text())["base_model"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(path) if base == model else None
