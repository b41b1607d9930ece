"""Stage: LLM re-ranking of a first-stage run, zero-shot and fine-tuned, listwise and pointwise.

python -m shortlister.stages.llm

Re-ranks the top `llm.depth` of runs/<llm.first_stage>/<dataset>.trec (fallback
`llm.first_stage_fallback`) for a bounded, fixed sample of queries (`llm.evaluation`:
the first `max_queries` test queries by id of the default data and, when ../shared is
there, of the O*NET benchmark), with every variant on exactly the same queries: each of
`llm.evaluation.scorers` (listwise generation, pointwise yes/no scoring) zero-shot and
with the LoRA adapter the `finetune` stage trained. reports/llm.json (and MLflow) hold
the first stage's and every variant's metrics, the repair share, tokens/s, seconds and
CPU seconds per query; reports/llm.md a table of them. runs/llm/<dataset>.trec is the
configured variant (`llm.scorer`, tuned when an adapter exists): the re-ranked head,
then the rest of the first-stage ranking, for `evaluate`. When no model is available
here (nothing is downloaded) it records `status: skipped` with the reason.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from shortlister.core.errors import ConfigError
from shortlister.core.progress import progress
from shortlister.data.datasets import Dataset, dataset_names, load_datasets
from shortlister.evaluation.metrics import MetricConfig, evaluate_run
from shortlister.evaluation.trec import Run, read_run, write_run
from shortlister.llm.backends import LLMBackend, backend_available, build_backend
from shortlister.llm.candidates import candidate_lists, title_map
from shortlister.llm.config import LLMConfig
from shortlister.llm.prompts import PromptTemplate
from shortlister.llm.rerank import LLMReranker, RerankResult, RerankStats
from shortlister.stages.common import start, tracked, write_json
from shortlister.stages.tracking import log_artifact, log_metrics

logger = logging.getLogger(__name__)

NAME = "llm"


def first_stage(params: dict[str, Any], cfg: LLMConfig) -> tuple[str, Path]:
    """The first-stage run directory: `first_stage`, else `first_stage_fallback`."""
    runs = Path(params["paths"]["runs"])
    tried = [n for n in (cfg.first_stage, cfg.first_stage_fallback) if n]
    for name in tried:
        if (runs / name).is_dir() and any((runs / name).glob("*.trec")):
            return name, runs / name
    raise ConfigError(
        f"llm.first_stage: no run files under {[str(runs / n) for n in tried]}; "
        "run the rank/ranker stages first"
    )


def selected_queries(ds: Dataset, cfg: LLMConfig) -> list[tuple[str, str]]:
    """(query_id, query) of the configured splits, first `max_queries` by query id."""
    q = ds.queries[ds.queries["split"].isin(cfg.evaluation.splits)].sort_values("query_id")
    pairs = list(zip(q["query_id"], q["query"], strict=True))
    return pairs[: cfg.evaluation.max_queries]


def merged_run(first: Run, qids: list[str], results: list[RerankResult]) -> Run:
    """Each query's re-ranked head, then its first-stage tail; scores strictly decrease."""
    out: Run = {}
    for qid, result in zip(qids, results, strict=True):
        head = result.ids
        tail = [cid for cid, _ in first[qid] if cid not in set(head)]
        order = head + tail
        out[qid] = [(cid, float(len(order) - i)) for i, cid in enumerate(order)]
    return out


def evaluate_variant(
    params: dict[str, Any], reranker: Any, ds: Dataset, stage: Path, cfg: LLMConfig
) -> tuple[dict[str, Any], Run]:
    """One re-ranker on one dataset's sample: metrics, cost, and the merged run."""
    run_path = stage / f"{ds.name}.trec"
    first = read_run(run_path)
    queries = selected_queries(ds, cfg)
    if not queries:
        raise ConfigError(f"llm.evaluation.splits: {cfg.evaluation.splits} has no {ds.name} query")
    titles = title_map(ds.candidates)
    items = candidate_lists(queries, first, titles, cfg.depth, source=run_path, pool=ds.name)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    results = reranker.rerank_many(items)
    seconds, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    qids = [qid for qid, _ in queries]
    run = merged_run(first, qids, results)
    mcfg = MetricConfig.from_config(params["evaluation"])
    metrics, _ = evaluate_run(run, ds.qrels, mcfg, query_ids=qids)
    n = len(qids)
    out: dict[str, Any] = {
        "n_queries": n,
        "seconds": round(seconds, 3),
        "seconds_per_query": round(seconds / n, 3),
        "cpu_seconds_per_query": round(cpu / n, 3),
        "metrics": metrics,
    }
    if isinstance(reranker, LLMReranker):
        stats = asdict(RerankStats.of(results))
        gen_s = sum(r.latency_s for r in results)
        out.update(stats)
        out["tokens_per_s"] = round(stats["completion_tokens"] / gen_s, 2) if gen_s else None
        out["tokens_per_s_kind"] = "generated tokens per second of generation"
    else:
        pairs = sum(min(cfg.depth, len(c)) for _, c in items)
        scored_s = sum(r.latency_s for r in results)
        out.update(n_pairs=pairs, repair_share=None)
        stats = reranker.stats
        out["tokens_per_s"] = (
            round(stats.prompt_tokens / stats.seconds, 1) if stats.seconds else None
        )
        out["tokens_per_s_kind"] = "prompt tokens scored per second of forward passes"
        out["pairs_per_s"] = round(pairs / scored_s, 2) if scored_s else None
    logger.info("%s: %s on %d queries in %.1fs: %s", ds.name, reranker.name, n, seconds, metrics)
    return out, run


def datasets_to_rerank(params: dict[str, Any], cfg: LLMConfig) -> tuple[list[Dataset], dict]:
    known = dataset_names(params)
    unknown = [n for n in cfg.evaluation.datasets if n not in known]
    if unknown:
        raise ConfigError(f"llm.evaluation.datasets: unknown {unknown}; expected some of {known}")
    loaded = {ds.name: ds for ds in load_datasets(params)}
    missing = {
        n: "dataset not built (see its status)" for n in cfg.evaluation.datasets if n not in loaded
    }
    return [loaded[n] for n in cfg.evaluation.datasets if n in loaded], missing


VARIANTS = ("zero-shot", "tuned")


def variant_plan(cfg: LLMConfig) -> list[tuple[str, str, str | None]]:
    """(scorer, variant, adapter) to evaluate: every scorer zero-shot (on one loaded base
    model), then each tuned one that the finetune stage trained."""
    plan = [(scorer, "zero-shot", None) for scorer in cfg.evaluation.scorers]
    for scorer in cfg.evaluation.scorers:
        if cfg.backend == "transformers":
            adapter = replace(cfg, adapter="auto").adapter_path(scorer)
            if adapter:
                plan.append((scorer, "tuned", adapter))
    return plan


def build_variant(cfg: LLMConfig, scorer: str, adapter: str | None, backend, cache: dict):
    """A re-ranker for one variant; the base model is loaded once and shared."""
    from shortlister.llm.backends import LocalModel, TransformersBackend
    from shortlister.llm.pointwise import PointwiseReranker

    template = PromptTemplate.from_config(cfg.prompt)
    if backend is not None or cfg.backend != "transformers":
        backend = backend or build_backend(cfg)
        return LLMReranker(backend, template, cfg.window, cfg.step, cfg.depth)
    key = adapter or ""
    if key not in cache:
        cache.clear()  # one model in memory at a time
        cache[key] = LocalModel(cfg, adapter)
    lm = cache[key]
    if scorer == "pointwise":
        return PointwiseReranker(cfg, lm=lm)
    return LLMReranker(TransformersBackend(cfg, lm=lm), template, cfg.window, cfg.step, cfg.depth)


def default_variant(cfg: LLMConfig, plan: list[tuple[str, str, str | None]]) -> str:
    """The run `evaluate` sees: the configured scorer, tuned when an adapter was trained."""
    names = [f"{s}/{v}" for s, v, _ in plan]
    for name in (f"{cfg.scorer}/tuned", f"{cfg.scorer}/zero-shot"):
        if name in names:
            return name
    return names[0]


def run(params: dict[str, Any], backend: LLMBackend | None = None) -> dict[str, Any]:
    """Re-rank with every variant, write the runs and the report; `backend` overrides the
    configured listwise backend (then only listwise zero-shot runs)."""
    cfg = LLMConfig.from_config(params.get("llm"))
    out = Path(params["paths"]["runs"]) / NAME
    shutil.rmtree(out, ignore_errors=True)  # no stale run file may reach `evaluate`
    out.mkdir(parents=True)
    report: dict[str, Any] = {
        "backend": cfg.backend,
        "model": cfg.model_name,
        **{k: getattr(cfg, k) for k in ("window", "step", "depth")},
    }
    ok, reason = (True, backend.name) if backend else backend_available(cfg)
    if not ok:
        logger.warning("llm stage skipped: %s", reason)
        return finish(params, out, {**report, "status": "skipped", "reason": reason})
    name, stage = first_stage(params, cfg)
    datasets, missing = datasets_to_rerank(params, cfg)
    if not datasets:
        reason = f"none of the datasets {cfg.evaluation.datasets} is built"
        return finish(params, out, {**report, "status": "skipped", "reason": reason})
    plan = [("listwise", "zero-shot", None)] if backend else variant_plan(cfg)
    chosen = default_variant(cfg, plan)
    mcfg = MetricConfig.from_config(params["evaluation"])
    per_dataset: dict[str, Any] = {}
    for ds in datasets:
        queries = selected_queries(ds, cfg)
        first = read_run(stage / f"{ds.name}.trec")
        base, _ = evaluate_run(first, ds.qrels, mcfg, query_ids=[q for q, _ in queries])
        per_dataset[ds.name] = {"query_ids": [q for q, _ in queries], "first_stage": base}
    cache: dict[str, Any] = {}
    bar = progress(total=len(plan) * len(datasets), desc=NAME, unit="run")
    for scorer, variant, adapter in plan:
        reranker = build_variant(cfg, scorer, adapter, backend, cache)
        key = f"{scorer}/{variant}"
        write_sample_prompt(out, key, reranker, datasets[0], cfg, stage)
        for ds in datasets:
            bar.set_postfix_str(f"{key} on {ds.name}")
            result, run_ = evaluate_variant(params, reranker, ds, stage, cfg)
            bar.update()
            result["adapter"] = adapter
            per_dataset[ds.name].setdefault("variants", {})[key] = result
            if key == chosen:
                write_run(out / f"{ds.name}.trec", run_, tag=NAME)
    bar.close()
    cache.clear()
    report.update(
        status="ok",
        reason=None,
        available=reason,
        first_stage=name,
        run_variant=chosen,
        datasets=per_dataset,
        datasets_skipped=missing,
        per_cpu_second=per_cpu_second(per_dataset),
    )
    write_table(params, report)
    return finish(params, out, report)


def per_cpu_second(per_dataset: dict[str, Any], key: str = "ndcg@10") -> dict[str, Any]:
    """Each variant's gain over the first stage in `key`, per CPU second of a query."""
    out: dict[str, Any] = {}
    for ds, entry in per_dataset.items():
        base = entry["first_stage"].get(key)
        for variant, result in entry.get("variants", {}).items():
            gain = result["metrics"].get(key, 0.0) - (base or 0.0)
            cpu = result["cpu_seconds_per_query"]
            out.setdefault(ds, {})[variant] = {
                f"{key}_gain": round(gain, 4),
                "cpu_seconds_per_query": cpu,
                f"{key}_gain_per_cpu_second": round(gain / cpu, 5) if cpu else None,
            }
    return out


def write_sample_prompt(out: Path, key: str, reranker: Any, ds: Dataset, cfg: LLMConfig, stage):
    """The first prompt of the first selected query, rendered as the model sees it."""
    queries = selected_queries(ds, cfg)[:1]
    if not queries:
        return
    first, titles = read_run(stage / f"{ds.name}.trec"), title_map(ds.candidates)
    items = candidate_lists(queries, first, titles, cfg.depth, source=stage, pool=ds.name)
    query, cands = items[0]
    if isinstance(reranker, LLMReranker):
        text = reranker.backend.render(reranker.messages(query, cands[: cfg.window]))
    else:
        text = reranker.render(query, cands[0][1])
    (out / f"prompt_{key.replace('/', '_')}.txt").write_text(text)


def write_table(params: dict[str, Any], report: dict[str, Any]) -> None:
    lines = [
        f"# LLM re-ranking: {report['model']} on the top {report['depth']} of "
        f"{report['first_stage']}",
        "",
        "Same queries for every row (the first test queries by id, fixed in config).",
        "",
    ]
    for ds, entry in report["datasets"].items():
        fs = entry["first_stage"]
        lines += [
            f"## {ds} ({len(entry['query_ids'])} queries)",
            "",
            "| run | MAP | NDCG@10 | repair share | tokens/s | s per query | CPU s per query |",
            "|---|---|---|---|---|---|---|",
            f"| first stage ({report['first_stage']}) | {fs['map']:.4f} | {fs['ndcg@10']:.4f} "
            "| | | | |",
        ]
        for variant, r in entry.get("variants", {}).items():
            m = r["metrics"]
            repair = "" if r.get("repair_share") is None else f"{r['repair_share']:.2f}"
            tps = "" if r.get("tokens_per_s") is None else f"{r['tokens_per_s']:.1f}"
            lines.append(
                f"| {variant} | {m['map']:.4f} | {m['ndcg@10']:.4f} | {repair} | {tps} "
                f"| {r['seconds_per_query']:.2f} | {r['cpu_seconds_per_query']:.2f} |"
            )
        lines.append("")
    path = Path(params["paths"]["reports"]) / f"{NAME}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def finish(params: dict[str, Any], out: Path, report: dict[str, Any]) -> dict[str, Any]:
    write_json(out / "status.json", {"status": report["status"], "reason": report.get("reason")})
    write_json(Path(params["paths"]["reports"]) / f"{NAME}.json", report)
    return report


def flat_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The report's numbers as MLflow metrics (`default.pointwise.tuned.ndcg@10`, ...)."""
    out = {"skipped": float(report["status"] != "ok")}
    keys = ("repair_share", "tokens_per_s", "seconds_per_query", "cpu_seconds_per_query")
    for ds, entry in report.get("datasets", {}).items():
        for metric, value in entry["first_stage"].items():
            out[f"{ds}.first_stage.{metric}"] = float(value)
        for variant, result in entry.get("variants", {}).items():
            prefix = f"{ds}.{variant.replace('/', '.')}"
            for metric, value in result["metrics"].items():
                out[f"{prefix}.{metric}"] = float(value)
            for key in keys:
                if result.get(key) is not None:
                    out[f"{prefix}.{key}"] = float(result[key])
    return out


def main() -> None:
    params = start()
    with tracked(NAME, params, params.get("llm", {})):
        report = run(params)
        log_metrics(flat_metrics(report))
        reports = Path(params["paths"]["reports"])
        log_artifact(reports / f"{NAME}.json", NAME)
        if (reports / f"{NAME}.md").exists():
            log_artifact(reports / f"{NAME}.md", NAME)
        for prompt in sorted((Path(params["paths"]["runs"]) / NAME).glob("prompt_*.txt")):
            log_artifact(prompt, NAME)


if __name__ == "__main__":
    main()
