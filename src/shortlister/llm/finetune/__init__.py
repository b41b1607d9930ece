"""Fine-tuning an LLM re-ranker (stage `finetune`), one module per job.

config (FinetuneConfig), data (training records, prompt-completion pairs), device (device,
dtype, 4-bit quantisation, peak memory), trainer (the completion-only loss), train
(`train_adapter`: plan, budget, trl run), report (losses, curve, parameter counts) and
adapter (LoRA config, the saved adapter folder).
"""
