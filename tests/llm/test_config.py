from __future__ import annotations

from dataclasses import asdict

from shortlister.core.params import compose
from shortlister.llm.config import LLMConfig
from shortlister.llm.prompts import PromptTemplate


def test_built_in_defaults_match_conf_llm_default(root):
    """The CLI without --params uses LLMConfig(); the pipeline uses conf/llm/default.yaml."""
    conf = compose(config_dir=root / "conf")["llm"]
    cfg = LLMConfig.from_config(conf)
    assert {**asdict(cfg), "prompt": {}} == asdict(LLMConfig())
    assert PromptTemplate.from_config(cfg.prompt) == PromptTemplate()


def test_groq_option(root):
    cfg = LLMConfig.from_config(compose(["llm=groq"], config_dir=root / "conf")["llm"])
    assert cfg.backend == "openai" and cfg.model_name == "llama-3.1-8b-instant"
    assert cfg.openai.api_key_env == "GROQ_API_KEY"
