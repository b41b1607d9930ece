"""Fine-tuning an LLM re-ranker (stage `finetune`): config, data, training."""
