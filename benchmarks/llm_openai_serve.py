"""Seconds per window of the OpenAI-compatible backend against a local `transformers serve`.

    python benchmarks/llm_openai_serve.py                        # gemma3-270m, completions
    python benchmarks/llm_openai_serve.py --windows 20 --dtype bfloat16
    python benchmarks/llm_openai_serve.py --base-url http://127.0.0.1:8000/v1 --model M

It starts `transformers serve` on 127.0.0.1 with the packaged gemma3-270m (a base model,
so the completions endpoint), unless --base-url names a server that already runs. Each
window is one listwise prompt: a query of data/raw/default/queries.tsv and `--window`
candidates drawn from data/raw/default/candidates.csv (seeded). One warm-up call is not
counted. Figures go to stdout and to reports/benchmarks/llm_openai_serve.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

from shortlister.core.logs import configure_logging
from shortlister.data.clean import CleanConfig, clean_candidates
from shortlister.data.datasets import load_queries
from shortlister.data.loader import load_candidates
from shortlister.llm.backends import build_backend
from shortlister.llm.config import LLMConfig
from shortlister.llm.models import resolve_model
from shortlister.llm.parse import parse_ranking
from shortlister.llm.prompts import PromptTemplate, build_messages
from shortlister.llm.serve_process import TransformersServer

DATA = Path("data/raw/default")
OUT = Path("reports/benchmarks/llm_openai_serve.json")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="gemma3-270m", help="packaged name, folder or hub id")
    p.add_argument("--base-url", help="a running server (then no server is started)")
    p.add_argument("--endpoint", choices=["chat", "completions"], default="completions")
    p.add_argument("--windows", type=int, default=10, help="prompts timed")
    p.add_argument("--window", type=int, default=10, help="candidates per prompt")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--dtype", default="float32", help="the server's --dtype (auto: bfloat16)")
    p.add_argument("--device", default="auto", help="the server's --device")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=OUT)
    return p.parse_args(argv)


def windows(n: int, size: int, seed: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """`n` (query, `size` candidates) pairs from the bundled default data."""
    clean_cfg = CleanConfig()
    pool = clean_candidates(load_candidates(DATA / "candidates.csv"), clean_cfg).clean
    queries = load_queries(DATA / "queries.tsv", clean_cfg)["query"].tolist()
    rows = list(zip(pool["id"], pool["title"], strict=True))
    rng = random.Random(seed)
    return [(queries[i % len(queries)], rng.sample(rows, size)) for i in range(n)]


def measure(cfg: LLMConfig, prompts: list[tuple[str, list[tuple[str, str]]]]) -> dict:
    backend = build_backend(cfg)
    template = PromptTemplate.from_config(cfg.prompt)
    messages = [build_messages(query, cands, template) for query, cands in prompts]
    backend.generate(messages[:1])  # warm-up: first-request allocations on the server
    t0 = time.perf_counter()
    gens = backend.generate(messages)
    wall = time.perf_counter() - t0
    clean = [parse_ranking(g.text, [c for c, _ in cands], template).clean
             for g, (_, cands) in zip(gens, prompts, strict=True)]  # fmt: skip
    latencies = sorted(g.latency_s for g in gens)
    completion = sum(g.completion_tokens or 0 for g in gens)
    return {
        "windows": len(gens),
        "s_per_window_median": statistics.median(latencies),
        "s_per_window_p90": latencies[min(len(latencies) - 1, round(0.9 * (len(latencies) - 1)))],
        "s_per_window_max": latencies[-1],
        "prompt_tokens_per_window": sum(g.prompt_tokens or 0 for g in gens) / len(gens),
        "completion_tokens_per_window": completion / len(gens),
        "completion_tokens_per_s": completion / wall if wall else 0.0,
        "clean_share": sum(clean) / len(gens),
        "first_answer": gens[0].text,  # what the model says, for a look
    }


def run(args: argparse.Namespace) -> dict:
    prompts = windows(args.windows, args.window, args.seed)
    api = {"endpoint": args.endpoint, "base_url_env": None, "model": args.model}
    server = None
    if args.base_url:
        api["base_url"] = args.base_url
    else:
        model = resolve_model(args.model, LLMConfig().model_cache)
        server = TransformersServer(model, device=args.device, dtype=args.dtype).start()
        api.update(base_url=server.base_url, model=server.model)
    try:
        cfg = LLMConfig.from_config(
            {"backend": "openai", "max_new_tokens": args.max_new_tokens, "openai": api}
        )
        figures = measure(cfg, prompts)
    finally:
        if server is not None:
            server.stop()
    return {
        "model": args.model,
        "endpoint": args.endpoint,
        "server": "external" if server is None else "transformers serve",
        "dtype": None if server is None else args.dtype,
        "window": args.window,
        "max_new_tokens": args.max_new_tokens,
        "server_start_s": None if server is None else server.start_s,
        **figures,
    }


def main(argv: list[str] | None = None) -> int:
    configure_logging("WARNING")
    args = parse_args(argv)
    record = run(args)
    print(f"openai backend, {record['endpoint']} endpoint: {record['model']} "
          f"({record['server']}, {record['dtype']}), window {args.window}")  # fmt: skip
    for key, value in record.items():
        if isinstance(value, float):
            print(f"  {key:30s} {value:10.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
