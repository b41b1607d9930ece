"""PromptBuilder: chat templates for instruct models, completion prompts for base models,
and the same text for fine-tuning as for inference."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from shortlister.llm.parse import parse_ranking
from shortlister.llm.prompts import PromptBuilder, PromptTemplate, build_messages

CANDS = [("c1", "Registered Nurse"), ("c2", "Teacher"), ("c3", "HR Generalist")]


def test_a_base_model_gets_a_completion_prompt_ending_in_the_prefix():
    messages = build_messages("nurse", CANDS, PromptTemplate())
    builder = PromptBuilder("Ranking:", "auto", tokenizer=None)
    text = builder.prompt(messages)
    assert builder.format == "completion" and builder.add_special_tokens
    assert text.endswith("\n\nRanking:") and messages[1]["content"] in text
    parsed = parse_ranking(builder.answer(" c3, c1, c2"), ["c1", "c2", "c3"], PromptTemplate())
    assert parsed.clean and parsed.ids == ["c3", "c1", "c2"]


def test_a_model_with_a_chat_template_keeps_the_chat_path(tiny_qwen):
    tok = AutoTokenizer.from_pretrained(tiny_qwen)
    builder = PromptBuilder("Ranking:", "auto", tok, {"enable_thinking": False})
    text = builder.prompt(build_messages("nurse", CANDS, PromptTemplate()))
    assert builder.format == "chat" and not builder.add_special_tokens
    assert "<|im_start|>user" in text and "<|im_start|>assistant" in text
    assert builder.answer("Ranking: c1") == "Ranking: c1"


def test_chat_without_a_template_is_refused(tiny_qwen):
    tok = AutoTokenizer.from_pretrained(tiny_qwen)
    tok.chat_template = None
    with pytest.raises(ValueError, match="no chat template"):
        PromptBuilder("Ranking:", "chat", tok)


def test_training_and_inference_see_the_same_prompt(tiny_gemma):
    tok = AutoTokenizer.from_pretrained(tiny_gemma)
    tok.chat_template = None  # as gemma-3-270m, the base model
    builder = PromptBuilder("Answer:", "auto", tok)
    messages = [{"role": "user", "content": "Target role: nurse\nCandidate headline: Nurse"}]
    example = builder.training_example(messages, "Yes")
    assert example == {"prompt": builder.prompt(messages), "completion": " Yes"}
