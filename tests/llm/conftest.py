"""Tiny random local models (built once per session) for the transformers code paths."""

from __future__ import annotations

import pytest

from shortlister.llm.tiny import build_tiny_model

# Ids and words the tests use, so the tiny tokenizers have tokens for them.
CORPUS = [
    "c1 c2 c3 c4 c5 c6 c7 c8 c9 c10 c11 c12",
    "Human Resources Generalist, Registered Nurse, Teacher, Software Engineer",
]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict:
    """{'gemma3': folder, 'qwen3': folder}: random weights, real families and chat templates."""
    root = tmp_path_factory.mktemp("tiny-llms")
    return {f: build_tiny_model(f, root / f, corpus=CORPUS) for f in ("gemma3", "qwen3")}


@pytest.fixture(scope="session")
def tiny_qwen(tiny_models):
    return tiny_models["qwen3"]


@pytest.fixture(scope="session")
def tiny_gemma(tiny_models):
    return tiny_models["gemma3"]
