"""Fine-tuning throughput: training tokens/s and peak memory of the LoRA / QLoRA path.

    python benchmarks/finetune_throughput.py                     # CPU: tiny random Gemma-3, LoRA
    python benchmarks/finetune_throughput.py --gemma-1b-sized    # CUDA: gemma-3-1b shapes, QLoRA
    python benchmarks/finetune_throughput.py --model gemma3-270m --quantization 4bit --device cpu
                                                # the real packaged Gemma, 4-bit NF4 on the CPU

`--model` takes a real model (the packaged gemma3-270m, a .gguf, a folder); otherwise the
model has random weights (no download): a tiny Gemma-3 by default, or one with
gemma-3-1b-it's exact shapes (`--gemma-1b-sized`, 4-bit NF4 base on CUDA). The prompts are
the real training prompts (`shortlister.llm.finetune.data.build_examples`) on a generated
default dataset, so the sequence lengths are the pipeline's (the tokenizer is a small local
BPE, so token counts differ somewhat from Gemma's own tokenizer). Training runs through the
same `train_adapter` the stage uses; tokens/s counts non-padding input tokens, peak memory
is `torch.cuda.max_memory_allocated` on CUDA and the process's peak RSS on CPU.
Writes reports/benchmarks/finetune_<device>.json and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from shortlister.core.logs import configure_logging
from shortlister.data.clean import clean_candidates
from shortlister.data.default.build import generate_default_dataset
from shortlister.data.default.config import GenerateConfig
from shortlister.evaluation.trec import qrels_from_frame
from shortlister.llm.finetune.config import FinetuneConfig
from shortlister.llm.finetune.data import PromptSpec, build_examples
from shortlister.llm.finetune.device import resolve_device
from shortlister.llm.finetune.train import train_adapter
from shortlister.llm.prompts import PromptTemplate
from shortlister.llm.tiny import GEMMA3_1B_DIMS, build_random_gemma3

ROOT = Path(__file__).resolve().parents[1]
TINY_DIMS = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 32,
    "intermediate_size": 128,
    "vocab_size": 1024,
    "sliding_window": 64,
    "max_position_embeddings": 2048,
}


def training_records(cfg: FinetuneConfig) -> list[dict]:
    data = generate_default_dataset(GenerateConfig(n_candidates=1500, n_queries=30))
    pool = clean_candidates(data.candidates).clean.reset_index(drop=True)
    return build_examples(
        data.queries, pool, qrels_from_frame(data.qrels), "train", PromptTemplate(), cfg
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gemma-1b-sized", action="store_true", help="gemma-3-1b shapes")
    parser.add_argument("--model", default=None, help="a real model: gemma3-270m, .gguf, folder")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--steps", type=int, default=None, help="default: 20 (CUDA) / 10 (CPU)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--quantization", default="auto", choices=["auto", "4bit", "none"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    configure_logging("WARNING")
    if args.threads:
        # On a busy machine, fewer threads than cores avoids OpenMP oversubscription stalls.
        torch.set_num_threads(args.threads)

    cfg = FinetuneConfig(
        device=args.device,
        quantization=args.quantization,
        max_steps=1,
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=1,
        max_length=args.max_length,
        negatives_from="random",
        warmup_steps=0,
        logging_steps=1,
    )
    device = resolve_device(cfg)
    if args.gemma_1b_sized and device != "cuda":
        sys.exit("--gemma-1b-sized needs CUDA (QLoRA); without a GPU run the tiny default")
    cfg.max_steps = args.steps or (20 if device == "cuda" else 10)
    records = training_records(cfg)
    corpus = [m["content"] for r in records[:50] for m in r["messages"]]
    dims = GEMMA3_1B_DIMS if args.gemma_1b_sized else TINY_DIMS
    with tempfile.TemporaryDirectory(prefix="shortlister-bench-") as tmp:
        t0 = time.perf_counter()
        if args.model:
            cfg.base_model, dims = args.model, None
        else:
            cfg.base_model = str(build_random_gemma3(Path(tmp) / "base", dims, corpus))
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = train_adapter(cfg, records, [], Path(tmp) / "adapter", PromptSpec("Ranking:"))
        total_s = time.perf_counter() - t0
    if args.model:
        name = args.model
    else:
        name = "random gemma-3-1b-sized" if args.gemma_1b_sized else "random tiny gemma-3"
    figures = {
        "model": name,
        "dims": dims,
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "quantization": result["quantization"],
        "lora_r": cfg.lora_r,
        "target_modules": cfg.target_modules,
        "steps": result["steps"],
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "tokens_seen": result["tokens_seen"],
        "train_seconds": result["train_seconds"],
        "tokens_per_second": result["tokens_per_second"],
        "peak_memory_mb": result["peak_memory_mb"],
        "peak_memory_kind": result["peak_memory_kind"],
        "trainable_params": result["trainable_params"],
        "total_params": result["total_params"],
        "final_train_loss": result["final_train_loss"],
        "model_build_s": round(build_s, 2),
        "smoke_run_s": round(build_s + total_s, 2),
    }
    tag = device if not args.model else f"{device}_{result['quantization']}_{args.model}"
    out = args.out or ROOT / "reports" / "benchmarks" / f"finetune_{tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
