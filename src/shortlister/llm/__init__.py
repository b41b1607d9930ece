"""LLM ranking: prompts, backends (local transformers, OpenAI-compatible APIs), parsing,
fine-tuning."""
