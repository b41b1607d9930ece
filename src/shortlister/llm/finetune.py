"""Instruction data and (Q)LoRA fine-tuning of a chat LLM for listwise ranking.

Training prompts are the ranking prompts of `shortlister.llm.prompts` (target role plus
`id: title` lines), built from the graded judgments of the *training* queries; the answer
is the fixed `Ranking: id, id, ...` line, best grade first. Candidates are shuffled per
prompt so the model cannot learn "the first id wins". Validation prompts come from the
validation queries; test queries are never used.

On CUDA the base model is loaded in 4-bit NF4 through bitsandbytes and LoRA adapters are
trained on top (QLoRA); on CPU the same code trains plain LoRA on a small (e.g. tiny random)
model, so tests run the whole path. Training is trl's `SFTTrainer` on prompt-completion
conversations, so the loss covers only the assistant's answer whatever the chat template.
"""

from __future__ import annotations

import json
import logging
import math
import random
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from shortlister.errors import ConfigError
from shortlister.evaluation.trec import Qrels, Run
from shortlister.llm.prompts import PromptTemplate, build_messages, format_answer

logger = logging.getLogger(__name__)

DEVICES = ("auto", "cuda", "cpu")
QUANTIZATIONS = ("auto", "4bit", "none")
QUANT_TYPES = ("nf4", "fp4")
DTYPES = ("auto", "bfloat16", "float16", "float32")
NEGATIVE_SOURCES = ("first_stage", "random")
SPLITS = ("train", "validation")
# All linear layers of a Gemma/Llama-style decoder block (the QLoRA paper's choice).
DEFAULT_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class FinetuneConfig:
    """`finetune.*` in params.yaml; every field is checked when the config is built."""

    # model and hardware
    base_model: str = "google/gemma-3-1b-it"
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
    # before/after evaluation on the test queries (None: all of them)
    eval_max_queries: int | None = None
    # where things go
    data_dir: str = "data/processed/finetune"
    output_dir: str = "models/finetune/adapter"

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
        ):
            _positive_int(name, getattr(self, name))
        _non_negative_int("validation_prompts_per_query", self.validation_prompts_per_query)
        _non_negative_int("seed", self.seed)
        if self.eval_max_queries is not None:
            _positive_int("eval_max_queries", self.eval_max_queries)
        _in_range("lora_dropout", self.lora_dropout, 0.0, 1.0, high_open=True)
        _in_range("negatives_ratio", self.negatives_ratio, 0.0, 1.0, high_open=True)
        _in_range("weight_decay", self.weight_decay, 0.0, math.inf)
        _in_range("warmup_steps", self.warmup_steps, 0.0, math.inf)
        if not isinstance(self.learning_rate, int | float) or not 0 < self.learning_rate < 1:
            raise ConfigError(
                f"finetune.learning_rate: expected 0 < lr < 1, got {self.learning_rate!r}"
            )
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


# --------------------------------------------------------------------------- training data


def build_examples(
    dataset_queries: pd.DataFrame,
    candidates: pd.DataFrame | Mapping[str, str],
    qrels: Qrels,
    split: str,
    template: PromptTemplate,
    cfg: FinetuneConfig,
    seed: int | None = None,
    first_stage: Run | None = None,
) -> list[dict[str, Any]]:
    """Conversational records `{"messages": [system?, user, assistant], ...}` for one split.

    Each prompt shows `cfg.candidates_per_prompt` candidates in a seeded random order:
    judged ones (grade >= 1) plus `negatives_ratio` of unjudged ones, drawn from the
    first-stage top list (hard negatives) or the whole pool. The answer lists the best
    `answer_k` by grade, ties in a seeded order. Besides `messages`, a record keeps
    `query_id`, `split`, `candidate_ids` and `answer_ids` for checks.
    """
    if split not in SPLITS:
        raise ValueError(f"build_examples: split must be one of {list(SPLITS)}, got {split!r}")
    seed = cfg.seed if seed is None else seed
    titles = _title_map(candidates)
    pool = sorted(titles)
    n_prompts = cfg.prompts_per_query if split == "train" else cfg.validation_prompts_per_query
    selected = dataset_queries[dataset_queries["split"] == split]
    records = []
    for qid, query in zip(selected["query_id"], selected["query"], strict=True):
        judged = {cid: g for cid, g in qrels.get(qid, {}).items() if g > 0 and cid in titles}
        if not judged:
            logger.warning("query %s has no judged candidate in the pool; no training prompt", qid)
            continue
        hard = [cid for cid, _ in (first_stage or {}).get(qid, [])[: cfg.first_stage_depth]]
        for j in range(n_prompts):
            rng = random.Random(f"{seed}/{split}/{qid}/{j}")
            ids = _sample_candidates(judged, hard, pool, cfg, rng)
            rng.shuffle(ids)
            answer = _best_first(ids, judged, rng)[: cfg.answer_k]
            shown = [(cid, titles[cid]) for cid in ids]
            messages = build_messages(query, shown, template, k=cfg.answer_k)
            messages.append({"role": "assistant", "content": format_answer(answer, template)})
            records.append(
                {
                    "messages": messages,
                    "query_id": qid,
                    "split": split,
                    "candidate_ids": ids,
                    "answer_ids": answer,
                }
            )
    return records


def _title_map(candidates: pd.DataFrame | Mapping[str, str]) -> dict[str, str]:
    if isinstance(candidates, pd.DataFrame):
        return dict(zip(candidates["id"].astype(str), candidates["title"].astype(str), strict=True))
    return {str(k): str(v) for k, v in candidates.items()}


def _sample_candidates(
    judged: Mapping[str, int],
    hard: Sequence[str],
    pool: Sequence[str],
    cfg: FinetuneConfig,
    rng: random.Random,
) -> list[str]:
    n = cfg.candidates_per_prompt
    n_neg = round(n * cfg.negatives_ratio)
    # At least one judged candidate, else the answer would rank noise.
    n_pos = max(1, min(len(judged), n - n_neg))
    ids = rng.sample(sorted(judged), n_pos)
    n_neg = n - n_pos
    negatives: list[str] = []
    if cfg.negatives_from == "first_stage":
        hard_neg = [cid for cid in hard if cid not in judged]
        negatives = rng.sample(hard_neg, min(n_neg, len(hard_neg)))
    taken = set(ids) | set(negatives)
    # Fill from the whole pool (random negatives, or too few hard ones): rejection sampling
    # is cheap because the pool is far larger than a prompt.
    while len(negatives) < n_neg and len(taken) < len(pool):
        cid = pool[rng.randrange(len(pool))]
        if cid not in taken and cid not in judged:
            negatives.append(cid)
            taken.add(cid)
    return ids + negatives


def _best_first(ids: Sequence[str], grades: Mapping[str, int], rng: random.Random) -> list[str]:
    order = list(ids)
    rng.shuffle(order)  # ties end up in a seeded random order, not in prompt order
    return sorted(order, key=lambda cid: -grades.get(cid, 0))


def write_examples(records: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def read_examples(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def example_stats(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts, and where the best candidate sat in the prompt (should be spread evenly)."""
    positions = [r["candidate_ids"].index(r["answer_ids"][0]) for r in records]
    return {
        "n_records": len(records),
        "n_queries": len({r["query_id"] for r in records}),
        "mean_best_position": sum(positions) / len(positions) if positions else None,
        "n_distinct_best_positions": len(set(positions)),
    }


def to_prompt_completion(record: Mapping[str, Any]) -> dict[str, Any]:
    """`messages` split into trl's conversational prompt-completion form.

    trl then masks the prompt (completion-only loss) for any chat template; its
    `assistant_only_loss` would need `{% generation %}` markers that most templates lack.
    """
    messages = list(record["messages"])
    if not messages or messages[-1]["role"] != "assistant":
        raise ValueError("training record: expected the last message to be the assistant's answer")
    return {"prompt": messages[:-1], "completion": messages[-1:]}


# --------------------------------------------------------------------------- training


def load_base_model(cfg: FinetuneConfig, device: str):
    """The base model (4-bit on CUDA when configured) and its tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(cfg.base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    quant = get_quantization_config(cfg, device)
    kwargs: dict[str, Any] = {"dtype": model_dtype(cfg, device)}
    if quant is not None:
        kwargs["quantization_config"] = quant
    if device == "cuda":
        kwargs["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(cfg.base_model, **kwargs)
    return model, tokenizer


def sft_config(cfg: FinetuneConfig, device: str, output_dir: str, has_eval: bool):
    import torch
    from trl import SFTConfig

    bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
    return SFTConfig(
        output_dir=output_dir,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        per_device_eval_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
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
        dataloader_num_workers=0,
    )


def train_adapter(
    cfg: FinetuneConfig,
    train_records: Sequence[Mapping[str, Any]],
    val_records: Sequence[Mapping[str, Any]],
    out_dir: str | Path,
) -> dict[str, Any]:
    """Train LoRA (QLoRA on CUDA) with trl's SFTTrainer; save adapter + tokenizer to `out_dir`.

    Returns losses, the loss curve, tokens/s, peak memory and parameter counts.
    """
    import torch
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTTrainer

    if not train_records:
        raise ValueError("train_adapter: no training records")
    device = resolve_device(cfg)
    set_seed(cfg.seed)  # LoRA's A matrices are initialised randomly
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    model, tokenizer = load_base_model(cfg, device)
    train_ds = Dataset.from_list([to_prompt_completion(r) for r in train_records])
    val_ds = (
        Dataset.from_list([to_prompt_completion(r) for r in val_records]) if val_records else None
    )
    with tempfile.TemporaryDirectory(prefix="shortlister-sft-") as scratch:
        trainer = SFTTrainer(
            model=model,
            args=sft_config(cfg, device, scratch, val_ds is not None),
            train_dataset=train_ds,
            eval_dataset=val_ds,
            processing_class=tokenizer,
            peft_config=get_peft_config(cfg),
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
    tokens = int(trainer.state.num_input_tokens_seen)
    return {
        "device": device,
        "quantization": resolve_quantization(cfg, device),
        "base_model": cfg.base_model,
        "steps": int(output.global_step),
        "train_loss": float(output.training_loss),
        "final_train_loss": _last(trainer.state.log_history, "loss"),
        "eval_loss": float(eval_loss),
        "train_seconds": round(seconds, 3),
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


# --------------------------------------------------------------------------- before / after


def rerank_items(
    dataset_queries: pd.DataFrame,
    candidates: pd.DataFrame | Mapping[str, str],
    first_stage: Run,
    depth: int,
    split: str = "test",
    max_queries: int | None = None,
) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(query_id, query, first-stage top `depth` as (id, title)) for the queries of `split`."""
    titles = _title_map(candidates)
    selected = dataset_queries[dataset_queries["split"] == split].sort_values("query_id")
    items = []
    for qid, query in zip(selected["query_id"], selected["query"], strict=True):
        top = [(cid, titles[cid]) for cid, _ in first_stage.get(qid, []) if cid in titles][:depth]
        if top:
            items.append((qid, query, top))
        else:
            logger.warning("query %s has no first-stage candidates; not evaluated", qid)
    return items[:max_queries] if max_queries else items


def evaluate_reranker(
    reranker: Any,
    items: Sequence[tuple[str, str, list[tuple[str, str]]]],
    qrels: Qrels,
    ndcg_k: int = 10,
    gain: str = "linear",
) -> dict[str, Any]:
    """Clean-parse share, NDCG@k of the re-ranked lists and latency for one model.

    `reranker` is a `shortlister.llm.rerank.LLMReranker`; every item is re-ranked once.
    """
    from shortlister.llm.rerank import RerankStats

    t0 = time.perf_counter()
    results = reranker.rerank_many([(query, top) for _, query, top in items])
    wall = time.perf_counter() - t0
    stats = RerankStats.of(results)
    rankings = {qid: r.ids for (qid, _, _), r in zip(items, results, strict=True)}
    return {
        "n_queries": len(items),
        "n_calls": stats.n_calls,
        "clean_share": 1.0 - stats.repair_share if stats.n_calls else math.nan,
        "answer_line_share": stats.answer_line_share,
        f"ndcg@{ndcg_k}": mean_ndcg(rankings, qrels, ndcg_k, gain),
        "mean_latency_s": stats.mean_latency_s,
        "wall_s": round(wall, 3),
        "completion_tokens": stats.completion_tokens,
        "n_unknown": stats.n_unknown,
        "n_duplicates": stats.n_duplicates,
        "n_filled": stats.n_filled,
        "rankings": rankings,
    }


def first_stage_ndcg(
    items: Sequence[tuple[str, str, list[tuple[str, str]]]],
    qrels: Qrels,
    ndcg_k: int = 10,
    gain: str = "linear",
) -> float:
    """NDCG@k of the first-stage order itself: the line the LLM has to beat."""
    return mean_ndcg({qid: [c for c, _ in top] for qid, _, top in items}, qrels, ndcg_k, gain)


def mean_ndcg(
    rankings: Mapping[str, Sequence[str]], qrels: Qrels, ndcg_k: int = 10, gain: str = "linear"
) -> float:
    """Mean NDCG@k over the ranked queries (NaN when there are none)."""
    from shortlister.evaluation.metrics import ndcg_at_k

    values = [
        ndcg_at_k(list(ids), qrels.get(qid, {}), ndcg_k, gain) for qid, ids in rankings.items()
    ]
    return sum(values) / len(values) if values else math.nan


def compare_base_and_tuned(
    llm: Mapping[str, Any],
    cfg: FinetuneConfig,
    adapter_dir: str | Path,
    template: PromptTemplate,
    items: Sequence[tuple[str, str, list[tuple[str, str]]]],
    qrels: Qrels,
    ndcg_k: int = 10,
    gain: str = "linear",
) -> dict[str, Any]:
    """The same queries through the base model and base + adapter (issue 6's LLMReranker).

    `llm` is the `llm` params section: window, step, depth, max_new_tokens and batch size
    come from it; the model is `cfg.base_model` and the prompt asks for `cfg.answer_k` ids,
    exactly as in training.
    """
    from shortlister.llm.backends import build_backend
    from shortlister.llm.config import LLMConfig
    from shortlister.llm.rerank import LLMReranker

    base = LLMConfig.from_mapping(
        {**dict(llm), "backend": "transformers", "model": cfg.base_model, "adapter": None}
    )
    if cfg.device != "auto":
        base.device = cfg.device
    k = cfg.answer_k if cfg.answer_k < base.window else None
    out: dict[str, Any] = {
        "first_stage": {f"ndcg@{ndcg_k}": first_stage_ndcg(items, qrels, ndcg_k, gain)},
    }
    for name, adapter in (("base", None), ("tuned", str(adapter_dir))):
        llm_cfg = LLMConfig.from_mapping({**base.to_dict(), "adapter": adapter})
        backend = build_backend(llm_cfg)
        reranker = LLMReranker(backend, template, llm_cfg.window, llm_cfg.step, llm_cfg.depth, k=k)
        out[name] = evaluate_reranker(reranker, items, qrels, ndcg_k, gain)
        logger.info(
            "%s: clean %.3f, ndcg@%d %.4f, %.3f s/call",
            name,
            out[name]["clean_share"],
            ndcg_k,
            out[name][f"ndcg@{ndcg_k}"],
            out[name]["mean_latency_s"],
        )
        del backend, reranker  # one model in memory at a time
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
