"""Tiny random Gemma-3 / Qwen3 causal LMs, built locally for tests and CPU smoke runs.

A real model family (config class, architecture, chat template, special tokens) with a few
thousand parameters and a byte-level BPE tokenizer trained on the spot with `tokenizers`,
so the transformers loading, generation, LoRA and adapter code paths run offline in seconds.
Their outputs are random: never report them as a quality result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

# Simplified but faithful chat templates: the same turn markers as the released models.
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
    "{% if message['role'] == 'system' %}"
    "{{ '<start_of_turn>user\n' + message['content'] | trim + '\n\n' }}"
    "{% else %}"
    "{% if not (loop.index0 > 0 and loop.previtem['role'] == 'system') %}"
    "{{ '<start_of_turn>' + role + '\n' }}{% endif %}"
    "{{ message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)
QWEN3_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}"
    "{{ '<think>\n\n</think>\n\n' }}{% endif %}{% endif %}"
)

FAMILIES = {
    "gemma3": {
        "special": ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"],
        "pad": "<pad>",
        "eos": "<end_of_turn>",
        "bos": "<bos>",
        "template": GEMMA3_CHAT_TEMPLATE,
    },
    "qwen3": {
        "special": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"],
        "pad": "<|endoftext|>",
        "eos": "<|im_end|>",
        "bos": None,
        "template": QWEN3_CHAT_TEMPLATE,
    },
}

_BASE_CORPUS = [
    "Rank the candidates for the target role. Answer with the ids, best first.",
    "Ranking: c1, c2, c3, c4, c5, c6, c7, c8, c9, c10",
    "Aspiring Human Resources Professional | Passionate about helping people",
    "Senior Software Engineer, Data Scientist, Registered Nurse, Accountant",
    "0 1 2 3 4 5 6 7 8 9 : , | - > id title role candidate answer",
]


def build_tokenizer(family: str, corpus: Iterable[str] = (), vocab_size: int = 512):
    """A byte-level BPE tokenizer with the family's special tokens and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    spec = FAMILIES[family]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=spec["special"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([*_BASE_CORPUS, *corpus], trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=spec["pad"],
        eos_token=spec["eos"],
        bos_token=spec["bos"],
        unk_token=None,
    )
    fast.chat_template = spec["template"]
    return fast


def build_tiny_model(
    family: str,
    out_dir: str | Path,
    *,
    corpus: Iterable[str] = (),
    hidden_size: int = 32,
    layers: int = 2,
    vocab_size: int = 512,
    seed: int = 0,
) -> Path:
    """Write a tiny random `family` model + tokenizer to `out_dir` (loadable by Auto classes)."""
    import torch
    from transformers import AutoModelForCausalLM

    if family not in FAMILIES:
        raise ValueError(f"family {family!r}: expected one of {sorted(FAMILIES)}")
    out = Path(out_dir)
    tokenizer = build_tokenizer(family, corpus, vocab_size)
    common = dict(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=hidden_size // 2,
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    if family == "gemma3":
        from transformers import Gemma3TextConfig

        config = Gemma3TextConfig(**common, bos_token_id=tokenizer.bos_token_id, sliding_window=64)
    else:
        from transformers import Qwen3Config

        config = Qwen3Config(**common)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


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
