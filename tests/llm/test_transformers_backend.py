"""The transformers backend on tiny random Gemma-3 / Qwen3 models: plumbing only, their
rankings are random and never asserted for quality."""

from __future__ import annotations

import pytest
import torch

from shortlister.core.errors import ConfigError
from shortlister.llm.backends import TransformersBackend, backend_available, build_backend
from shortlister.llm.config import LLMConfig
from shortlister.llm.prompts import build_messages
from shortlister.llm.rerank import LLMReranker

CANDS = [(f"c{i}", t) for i, t in enumerate(
    ["Registered Nurse", "Teacher", "Human Resources Generalist", "Software Engineer",
     "HR Assistant", "Nurse Practitioner", "Recruiter", "Accountant"], start=1)]  # fmt: skip


def _cfg(model, **kw) -> LLMConfig:
    return LLMConfig(model=str(model), device="cpu", max_new_tokens=12, batch_size=2, **kw)


@pytest.fixture(scope="module")
def qwen_backend(tiny_qwen):
    return TransformersBackend(_cfg(tiny_qwen, chat_template_kwargs={"enable_thinking": False}))


@pytest.fixture(scope="module")
def gemma_backend(tiny_gemma):
    return build_backend({"model": str(tiny_gemma), "device": "cpu", "max_new_tokens": 12})


def test_qwen_chat_template_is_applied(qwen_backend):
    prompt = qwen_backend.render(build_messages("nurse", CANDS[:3]))
    assert prompt.startswith("<|im_start|>system\nYou are a recruiting assistant.")
    assert "<|im_start|>user\nTarget role: nurse" in prompt
    # generation prompt, with Qwen3's thinking switched off by chat_template_kwargs
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_gemma_chat_template_folds_the_system_turn(gemma_backend):
    prompt = gemma_backend.render(build_messages("nurse", CANDS[:3]))
    assert prompt.startswith("<bos><start_of_turn>user\nYou are a recruiting assistant.")
    assert prompt.count("<start_of_turn>user") == 1
    assert "c1: Registered Nurse" in prompt and prompt.endswith("<start_of_turn>model\n")


def test_generate_batches_with_left_padding(qwen_backend):
    batch = [build_messages("nurse", CANDS[: n + 2]) for n in range(3)]
    gens = qwen_backend.generate(batch)
    assert len(gens) == 3 and qwen_backend.tokenizer.padding_side == "left"
    for gen in gens:
        assert isinstance(gen.text, str) and gen.latency_s > 0
        assert gen.prompt_tokens > 0 and 0 < gen.completion_tokens <= 12
    # greedy: a prompt gives the same answer alone as in a padded batch
    assert qwen_backend.generate(batch[:1])[0].text == gens[0].text


@pytest.mark.parametrize("family", ["gemma3", "qwen3"])
def test_reranking_returns_a_permutation(tiny_models, family):
    backend = build_backend({"model": str(tiny_models[family]), "device": "cpu",
                             "max_new_tokens": 16, "batch_size": 3})  # fmt: skip
    reranker = LLMReranker(backend, window=4, step=2, depth=6)
    results = reranker.rerank_many([("nurse", CANDS), ("recruiter", CANDS[::-1])])
    for result, cands in zip(results, [CANDS, CANDS[::-1]], strict=True):
        assert sorted(result.ids) == sorted(c for c, _ in cands)
        assert result.ids[6:] == [c for c, _ in cands][6:]  # the tail below depth is untouched
        assert result.n_calls == 2 and result.latency_s > 0  # windows (2, 6), (0, 4)


def test_lora_adapter_is_loaded_on_top(tiny_qwen, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_qwen)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                      init_lora_weights=False, task_type="CAUSAL_LM")  # fmt: skip
    get_peft_model(base, lora).save_pretrained(tmp_path / "adapter")

    plain = TransformersBackend(_cfg(tiny_qwen))
    tuned = TransformersBackend(_cfg(tiny_qwen, adapter=str(tmp_path / "adapter")))
    assert "+" in tuned.name and type(tuned.model).__name__ == "PeftModelForCausalLM"
    ids = plain.tokenizer(plain.render(build_messages("nurse", CANDS[:3])), return_tensors="pt")
    with torch.inference_mode():
        a = plain.model(**ids).logits
        b = tuned.model(**ids).logits
    assert not torch.allclose(a, b)


def test_availability_without_downloading(tiny_qwen, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert backend_available(_cfg(tiny_qwen))[0]
    ok, reason = backend_available(LLMConfig(model="Qwen/Qwen3-0.6B"))
    assert not ok and "HF_HUB_OFFLINE=1" in reason and "hf download Qwen/Qwen3-0.6B" in reason
    ok, reason = backend_available(LLMConfig(model=str(tmp_path / "nope")))
    assert not ok and "does not exist" in reason
    ok, reason = backend_available(LLMConfig(model=str(tmp_path)))
    assert not ok and "no config.json" in reason
    ok, reason = backend_available(_cfg(tiny_qwen, adapter=str(tmp_path / "missing")))
    assert not ok and "adapter" in reason
    assert backend_available(LLMConfig(model=None)) == (
        False,
        "no model configured (llm.model is null)",
    )


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="llm.device"):
        LLMConfig(device="tpu")
    with pytest.raises(ConfigError, match="window"):
        LLMConfig(window=5, step=5)
    with pytest.raises(ConfigError, match="llm.openai: unknown keys"):
        LLMConfig.from_config({"openai": {"key": "secret"}})
