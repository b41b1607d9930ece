"""LLM re-ranking speed: per-call latency and tokens per second of a configured backend.

    python benchmarks/llm_latency.py                              # a tiny RANDOM model (speed only)
    python benchmarks/llm_latency.py --model Qwen/Qwen3-0.6B      # a real local model
    python benchmarks/llm_latency.py --params params.yaml         # llm.* of a params file
    GROQ_API_KEY=... python benchmarks/llm_latency.py --params params.yaml --backend openai

Each call is one sliding-window prompt (`--window` candidates with generated headlines).
The default model is built on the spot with random weights: its figures measure the code
path and the hardware, and its answers are noise, never a quality result.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from shortlister.core.logs import configure_logging
from shortlister.core.params import load_params
from shortlister.llm.backends import backend_available, build_backend
from shortlister.llm.config import LLMConfig
from shortlister.llm.parse import parse_ranking
from shortlister.llm.prompts import PromptTemplate, build_messages

TITLES = [
    "Registered Nurse",
    "Human Resources Generalist",
    "Aspiring HR Professional",
    "Software Engineer | Python",
    "Native English Teacher at EPIK",
    "Recruiter",
    "Senior Accountant",
    "Talent Acquisition Partner",
    "Line Cook",
    "Data Scientist",
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--params", type=Path, help="take llm.* from this params file")
    p.add_argument("--backend", choices=["transformers", "openai"])
    p.add_argument("--model", help="hub id or folder [default: a tiny random Qwen3]")
    p.add_argument("--window", type=int, default=10, help="candidates per prompt")
    p.add_argument("--calls", type=int, default=8)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--out", type=Path, help="also write the figures as JSON")
    return p.parse_args(argv)


def config(args: argparse.Namespace, scratch: Path) -> tuple[LLMConfig, bool]:
    """The backend config, and whether it is the tiny random model."""
    cfg = dict(load_params(args.params).get("llm", {})) if args.params else {}
    cfg.update({k: v for k, v in {"backend": args.backend, "batch_size": args.batch_size,
                                  "max_new_tokens": args.max_new_tokens}.items() if v})  # fmt: skip
    random_model = False
    if args.model:
        cfg["model"] = args.model
    elif cfg.get("backend", "transformers") == "transformers" and not args.params:
        from shortlister.llm.tiny import build_tiny_model

        cfg["model"] = str(build_tiny_model("qwen3", scratch / "tiny-qwen3"))
        random_model = True
    return LLMConfig.from_config(cfg), random_model


def measure(cfg: LLMConfig, window: int, calls: int) -> dict[str, float]:
    backend = build_backend(cfg)
    template = PromptTemplate.from_config(cfg.prompt)
    prompts = []
    for n in range(calls):
        cands = [(f"c{100 * n + i:05d}", TITLES[(n + i) % len(TITLES)]) for i in range(window)]
        prompts.append((build_messages("human resources", cands, template), cands))
    backend.generate([prompts[0][0]])  # warm-up: weights into caches, lazy inits
    t0 = time.perf_counter()
    gens = backend.generate([m for m, _ in prompts])
    wall = time.perf_counter() - t0
    clean = [parse_ranking(g.text, [c for c, _ in cands], template).clean
             for g, (_, cands) in zip(gens, prompts, strict=True)]  # fmt: skip
    latencies = sorted(g.latency_s for g in gens)
    completion = sum(g.completion_tokens or 0 for g in gens)
    return {
        "calls": calls,
        "latency_p50_s": statistics.median(latencies),
        "latency_max_s": latencies[-1],
        "prompt_tokens_per_call": sum(g.prompt_tokens or 0 for g in gens) / calls,
        "completion_tokens_per_call": completion / calls,
        "completion_tokens_per_s": completion / wall if wall else 0.0,
        "calls_per_s": calls / wall if wall else 0.0,
        "clean_share": sum(clean) / calls,
    }


def main(argv: list[str] | None = None) -> int:
    configure_logging("WARNING")
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        cfg, random_model = config(args, Path(scratch))
        ok, reason = backend_available(cfg)
        if not ok:
            print(f"backend not available: {reason}", file=sys.stderr)
            return 1
        figures = measure(cfg, args.window, args.calls)
    label = "TINY RANDOM MODEL (speed of the code path only)" if random_model else cfg.model_name
    print(f"{cfg.backend}: {label}, window {args.window}, batch {cfg.batch_size}")
    for key, value in figures.items():
        print(f"  {key:28s} {value:10.3f}")
    if random_model:
        print("  (answers of a random model are noise: clean_share says nothing about quality)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        record = {"backend": cfg.backend, "model": label, "window": args.window, **figures}
        args.out.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
