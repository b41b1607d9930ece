"""Fine-tuning: config validation, the instruction data, and the whole LoRA path on CPU."""

from __future__ import annotations

import math
from collections import Counter

import pandas as pd
import pytest

from shortlister.core.errors import ConfigError
from shortlister.llm.finetune.adapter import get_peft_config
from shortlister.llm.finetune.config import FinetuneConfig
from shortlister.llm.finetune.data import (
    PromptSpec,
    build_examples,
    example_stats,
    to_prompt_completion,
)
from shortlister.llm.finetune.device import get_quantization_config
from shortlister.llm.finetune.train import train_adapter
from shortlister.llm.parse import parse_ranking
from shortlister.llm.prompts import PromptBuilder, PromptTemplate

N_CANDIDATES = 80
SPLITS = {"train": 6, "validation": 2, "test": 2}


def synthetic_data(seed: int = 0):
    """80 candidates, 10 queries; each query judges 12 candidates with grades 1-3."""
    import random

    rng = random.Random(seed)
    ids = [f"c{i:03d}" for i in range(N_CANDIDATES)]
    candidates = pd.DataFrame({"id": ids, "title": [f"Title number {i}" for i in range(80)]})
    rows, qrels, run = [], {}, {}
    n = 0
    for split, count in SPLITS.items():
        for _ in range(count):
            qid = f"q{n:02d}"
            rows.append((qid, f"{split} role {n}", split))
            judged = rng.sample(ids, 12)
            qrels[qid] = {cid: 1 + i % 3 for i, cid in enumerate(judged)}
            order = judged[:6] + [c for c in ids if c not in judged][:30] + judged[6:]
            run[qid] = [(cid, 1.0 - i / 100) for i, cid in enumerate(order)]
            n += 1
    queries = pd.DataFrame(rows, columns=["query_id", "query", "split"])
    return queries, candidates, qrels, run


@pytest.fixture()
def data():
    return synthetic_data()


def cfg(**kw) -> FinetuneConfig:
    base = dict(candidates_per_prompt=10, answer_k=10, prompts_per_query=6)
    return FinetuneConfig(**{**base, **kw})


# ----------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("lora_r", 0, "finetune.lora_r"),
        ("max_steps", True, "finetune.max_steps"),
        ("quantization", "8bit", "finetune.quantization"),
        ("device", "tpu", "finetune.device"),
        ("bnb_4bit_quant_type", "int4", "finetune.bnb_4bit_quant_type"),
        ("negatives_ratio", 1.0, "finetune.negatives_ratio"),
        ("negatives_from", "bm25", "finetune.negatives_from"),
        ("learning_rate", 0, "finetune.learning_rate"),
        ("target_modules", [], "finetune.target_modules"),
        ("lora_dropout", -0.1, "finetune.lora_dropout"),
        ("max_minutes", 0, "finetune.max_minutes"),
        ("scorers", ["bm25"], "finetune.scorers"),
        ("pointwise_learning_rate", 2, "finetune.pointwise_learning_rate"),
    ],
)
def test_config_errors_name_the_field(field, value, expected):
    with pytest.raises(ConfigError, match=expected):
        FinetuneConfig(**{field: value})


def test_config_rejects_unknown_keys_and_answer_longer_than_prompt():
    with pytest.raises(ConfigError, match=r"unknown keys \['lora_rank'\]"):
        FinetuneConfig.from_config({"lora_rank": 8})
    with pytest.raises(ConfigError, match="finetune.answer_k"):
        FinetuneConfig(candidates_per_prompt=5, answer_k=6)


def test_default_config_matches_conf(root):
    import yaml

    conf = yaml.safe_load((root / "conf" / "finetune" / "default.yaml").read_text())
    assert FinetuneConfig.from_config(conf).to_dict() == {**FinetuneConfig().to_dict(), **conf}


def test_quantization_config_nf4_without_a_gpu():
    assert get_quantization_config(FinetuneConfig(), "cpu") is None  # auto on CPU: plain LoRA
    assert get_quantization_config(FinetuneConfig(quantization="none"), "cuda") is None
    for config in (FinetuneConfig(quantization="4bit"), FinetuneConfig()):
        bnb = get_quantization_config(config, "cuda")
        assert bnb.load_in_4bit and bnb.bnb_4bit_quant_type == "nf4"
        assert bnb.bnb_4bit_use_double_quant
    import torch

    assert (
        get_quantization_config(FinetuneConfig(quantization="4bit"), "cpu").bnb_4bit_compute_dtype
        == torch.bfloat16
    )


def test_peft_config_from_fields():
    lora = get_peft_config(FinetuneConfig(lora_r=4, lora_alpha=8, target_modules=["q_proj"]))
    assert (lora.r, lora.lora_alpha, set(lora.target_modules)) == (4, 8, {"q_proj"})
    assert lora.task_type == "CAUSAL_LM"


# ----------------------------------------------------------------------------- data


def test_training_data_uses_training_queries_only(data):
    queries, candidates, qrels, run = data
    template = PromptTemplate()
    train = build_examples(queries, candidates, qrels, "train", template, cfg(), first_stage=run)
    val = build_examples(queries, candidates, qrels, "validation", template, cfg(), first_stage=run)
    train_ids = set(queries.loc[queries["split"] == "train", "query_id"])
    assert {r["query_id"] for r in train} == train_ids
    assert len(train) == len(train_ids) * 6
    assert {r["query_id"] for r in val} == set(
        queries.loc[queries["split"] == "validation", "query_id"]
    )
    text = "\n".join(m["content"] for r in train for m in r["messages"])
    for query in queries.loc[queries["split"] != "train", "query"]:
        assert f"Target role: {query}\n" not in text
    with pytest.raises(ValueError, match="split"):
        build_examples(queries, candidates, qrels, "test", template, cfg())


def test_records_are_chat_prompts_with_clean_graded_answers(data):
    queries, candidates, qrels, run = data
    template = PromptTemplate()
    records = build_examples(
        queries, candidates, qrels, "train", template, cfg(answer_k=4), first_stage=run
    )
    for r in records:
        roles = [m["role"] for m in r["messages"]]
        assert roles == ["system", "user", "assistant"]
        ids = r["candidate_ids"]
        assert len(ids) == len(set(ids)) == 10
        for cid in ids:  # every shown candidate is an `id: title` line of the prompt
            assert f"\n{cid}: " in r["messages"][1]["content"]
        parsed = parse_ranking(r["messages"][-1]["content"], ids, template, k=4)
        assert parsed.clean, parsed.issues
        assert parsed.ids[:4] == r["answer_ids"]
        grades = [qrels[r["query_id"]].get(c, 0) for c in r["answer_ids"]]
        assert grades == sorted(grades, reverse=True)
        best_shown = max(qrels[r["query_id"]].get(c, 0) for c in ids)
        assert grades[0] == best_shown


def test_candidate_order_is_shuffled_and_does_not_leak_the_answer(data):
    queries, candidates, qrels, run = data
    records = build_examples(
        queries,
        candidates,
        qrels,
        "train",
        PromptTemplate(),
        cfg(prompts_per_query=20),
        first_stage=run,
    )
    positions = Counter(r["candidate_ids"].index(r["answer_ids"][0]) for r in records)
    # 120 prompts, 10 slots: the best candidate lands everywhere, no slot dominates
    assert len(positions) == 10
    assert max(positions.values()) < 0.25 * len(records)
    stats = example_stats(records)
    assert 3.0 < stats["mean_best_position"] < 6.0
    orders = [tuple(r["candidate_ids"]) for r in records if r["query_id"] == records[0]["query_id"]]
    assert len(set(orders)) == len(orders)  # every prompt of a query shows another order


def test_examples_are_deterministic_per_seed(data):
    queries, candidates, qrels, run = data
    args = (queries, candidates, qrels, "train", PromptTemplate(), cfg())
    a = build_examples(*args, first_stage=run)
    assert a == build_examples(*args, first_stage=run)
    assert a != build_examples(*args, seed=99, first_stage=run)


def test_negatives_come_from_the_first_stage_or_the_pool(data):
    queries, candidates, qrels, run = data
    template = PromptTemplate()
    hard = build_examples(queries, candidates, qrels, "train", template, cfg(), first_stage=run)
    for r in hard:
        top = {cid for cid, _ in run[r["query_id"]][:100]}
        negatives = [c for c in r["candidate_ids"] if c not in qrels[r["query_id"]]]
        assert len(negatives) == 5 and set(negatives) <= top
    rand = build_examples(
        queries, candidates, qrels, "train", template, cfg(negatives_from="random")
    )
    assert all(sum(c in qrels[r["query_id"]] for c in r["candidate_ids"]) == 5 for r in rand)


def test_prompt_completion_split_keeps_the_answer_apart(data):
    queries, candidates, qrels, run = data
    record = build_examples(queries, candidates, qrels, "train", PromptTemplate(), cfg())[0]
    pc = to_prompt_completion(record, PromptBuilder("Ranking:", "chat"))
    assert [m["role"] for m in pc["prompt"]] == ["system", "user"]
    assert pc["completion"] == [record["messages"][-1]]


def test_completion_format_ends_in_the_prefix_and_trains_the_tail(data):
    """A base model (no chat template) learns the ids after `Ranking:`, the prompt's end."""
    queries, candidates, qrels, run = data
    record = build_examples(queries, candidates, qrels, "train", PromptTemplate(), cfg())[0]
    builder = PromptBuilder("Ranking:", "completion")
    pc = to_prompt_completion(record, builder)
    assert (
        pc["prompt"].endswith("\n\nRanking:") and record["messages"][1]["content"] in pc["prompt"]
    )
    assert pc["completion"] == " " + ", ".join(record["answer_ids"])
    # inference reads back exactly the trained answer
    parsed = parse_ranking(
        builder.answer(pc["completion"]), record["candidate_ids"], PromptTemplate()
    )
    assert parsed.clean and parsed.ids[: len(record["answer_ids"])] == record["answer_ids"]


# ----------------------------------------------------------------------------- CPU path


def test_lora_on_tiny_gemma_trains_saves_and_reranks(data, tmp_path):
    """The whole path: data -> LoRA with trl on CPU -> adapter -> base + adapter re-ranks."""
    from shortlister.llm.backends import build_backend
    from shortlister.llm.rerank import LLMReranker
    from shortlister.llm.tiny import build_tiny_model

    queries, candidates, qrels, run = data
    template = PromptTemplate()
    config = cfg(
        prompts_per_query=2,
        candidates_per_prompt=6,
        answer_k=6,
        max_steps=3,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=1,
        logging_steps=1,
        eval_steps=3,
        lora_r=4,
        lora_alpha=8,
        device="cpu",
        max_length=512,
    )
    train = build_examples(queries, candidates, qrels, "train", template, config, first_stage=run)
    val = build_examples(
        queries, candidates, qrels, "validation", template, config, first_stage=run
    )
    corpus = [m["content"] for r in train for m in r["messages"]]
    config.base_model = str(build_tiny_model("gemma3", tmp_path / "base", corpus=corpus))

    result = train_adapter(config, train[:8], val[:2], tmp_path / "adapter", PromptSpec("Ranking:"))

    assert result["steps"] == 3 and result["device"] == "cpu" and result["quantization"] == "none"
    assert math.isfinite(result["train_loss"]) and math.isfinite(result["eval_loss"])
    assert result["tokens_seen"] > 0 and result["tokens_per_second"] > 0
    assert result["peak_memory_mb"] > 0 and result["peak_memory_kind"] == "process peak RSS"
    assert 0 < result["trainable_params"] < result["total_params"]
    assert any("loss" in p for p in result["curve"])
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer_config.json"):
        assert (tmp_path / "adapter" / name).is_file(), name

    backend = build_backend(
        {
            "model": config.base_model,
            "adapter": str(tmp_path / "adapter"),
            "device": "cpu",
            "max_new_tokens": 8,
        }
    )
    top = [(cid, candidates.set_index("id").loc[cid, "title"]) for cid, _ in run["q08"][:8]]
    result = LLMReranker(backend, template, window=4, step=2, depth=8).rerank("test role", top)
    assert sorted(result.ids) == sorted(cid for cid, _ in top)
    assert result.n_calls == 3


def test_adapter_differs_from_base_after_training(data, tmp_path):
    """LoRA B starts at zero; after training the adapter must have moved off it."""
    from safetensors.torch import load_file

    from shortlister.llm.tiny import build_tiny_model

    queries, candidates, qrels, run = data
    config = cfg(
        prompts_per_query=1,
        candidates_per_prompt=4,
        answer_k=4,
        max_steps=2,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=1,
        device="cpu",
        learning_rate=0.01,
        target_modules=["q_proj", "v_proj"],
    )
    train = build_examples(queries, candidates, qrels, "train", PromptTemplate(), config)
    config.base_model = str(build_tiny_model("gemma3", tmp_path / "base"))
    train_adapter(config, train, [], tmp_path / "adapter", PromptSpec("Ranking:"))
    weights = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    lora_b = [w for k, w in weights.items() if "lora_B" in k]
    assert lora_b and any(float(w.abs().sum()) > 0 for w in lora_b)
    assert all("q_proj" in k or "v_proj" in k for k in weights)


# ----------------------------------------------------------------------------- GPU


@pytest.mark.gpu
def test_qlora_on_gemma_1b_sized_model_records_speed_and_memory(tmp_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU (torch.cuda.is_available() is False)")
    from shortlister.llm.tiny import build_random_gemma3

    queries, candidates, qrels, run = synthetic_data()
    config = cfg(
        prompts_per_query=4,
        max_steps=5,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=1,
        logging_steps=1,
    )
    train = build_examples(
        queries, candidates, qrels, "train", PromptTemplate(), config, first_stage=run
    )
    corpus = [m["content"] for r in train for m in r["messages"]]
    config.base_model = str(build_random_gemma3(tmp_path / "base", corpus=corpus))

    result = train_adapter(config, train, [], tmp_path / "adapter", PromptSpec("Ranking:"))

    assert result["device"] == "cuda" and result["quantization"] == "4bit"
    assert result["steps"] == 5 and math.isfinite(result["train_loss"])
    assert result["tokens_per_second"] > 0
    assert result["peak_memory_kind"] == "torch.cuda.max_memory_allocated"
    # 4-bit 1B base: well under the ~2 GB its bf16 weights alone would take, plus activations
    assert 0 < result["peak_memory_mb"] < 16_000
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
