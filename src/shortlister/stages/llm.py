"""Stage: LLM listwise re-ranking of a first-stage run, on a bounded sample of queries.

python -m shortlister.stages.llm

Re-ranks the top `llm.depth` of runs/<llm.first_stage>/<dataset>.trec (fallback
`llm.first_stage_fallback`) for the queries `llm.evaluation` selects and writes
runs/llm/<dataset>.trec (the re-ranked head, then the rest of the first-stage ranking),
runs/llm/status.json, a sample rendered prompt, and reports/llm.json with the repair
share, calls, latency, tokens and the first stage's and the LLM's metrics on the same
queries. When no model is configured or available here (nothing is downloaded), it
records `status: skipped` with the reason and writes no run file, so `evaluate` leaves
`llm` out. The environment (model cache, API key) is not a DVC dependency: after making
a model available run `dvc repro -f -s llm`.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from shortlister.data.datasets import Dataset, dataset_names, load_datasets
from shortlister.errors import ConfigError, DataError
from shortlister.evaluation.metrics import MetricConfig, evaluate_run
from shortlister.evaluation.trec import Run, read_run, write_run
from shortlister.llm.backends import LLMBackend, backend_available, build_backend
from shortlister.llm.config import LLMConfig
from shortlister.llm.prompts import PromptTemplate
from shortlister.llm.rerank import LLMReranker, RerankResult, RerankStats
from shortlister.stages.common import start, tracked, write_json
from shortlister.tracking import log_artifact, log_metrics

logger = logging.getLogger(__name__)

NAME = "llm"
STAT_KEYS = ("repair_share", "answer_line_share", "mean_latency_s", "n_calls", "n_queries")


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


def candidate_lists(
    ds: Dataset, run: Run, queries: list[tuple[str, str]], depth: int, run_path: Path
) -> list[tuple[str, list[tuple[str, str]]]]:
    titles = dict(zip(ds.candidates["id"].astype(str), ds.candidates["title"], strict=True))
    items = []
    for qid, query in queries:
        if qid not in run:
            raise DataError(f"no ranking for query '{qid}'", path=run_path, field="query_id")
        head = [cid for cid, _ in run[qid][:depth]]
        missing = [cid for cid in head if cid not in titles]
        if missing:
            raise DataError(
                f"candidates {missing[:5]} are not in the {ds.name} pool", path=run_path
            )
        items.append((query, [(cid, titles[cid]) for cid in head]))
    return items


def merged_run(first: Run, qids: list[str], results: list[RerankResult]) -> Run:
    """Each query's re-ranked head, then its first-stage tail; scores strictly decrease."""
    out: Run = {}
    for qid, result in zip(qids, results, strict=True):
        head = result.ids
        tail = [cid for cid, _ in first[qid] if cid not in set(head)]
        order = head + tail
        out[qid] = [(cid, float(len(order) - i)) for i, cid in enumerate(order)]
    return out


def metric_config(params: dict[str, Any]) -> MetricConfig:
    ev = params["evaluation"]
    keys = ("ndcg_k", "precision_k", "recall_k", "min_grade", "gain")
    return MetricConfig(**{k: ev[k] for k in keys})


def rerank_dataset(
    params: dict[str, Any], cfg: LLMConfig, reranker: LLMReranker, ds: Dataset, stage: Path
) -> dict[str, Any]:
    run_path = stage / f"{ds.name}.trec"
    first = read_run(run_path)
    queries = selected_queries(ds, cfg)
    if not queries:
        raise ConfigError(f"llm.evaluation.splits: {cfg.evaluation.splits} has no {ds.name} query")
    items = candidate_lists(ds, first, queries, cfg.depth, run_path)
    t0 = time.perf_counter()
    results = reranker.rerank_many(items)
    seconds = time.perf_counter() - t0
    qids = [qid for qid, _ in queries]
    run = merged_run(first, qids, results)
    write_run(Path(params["paths"]["runs"]) / NAME / f"{ds.name}.trec", run, tag=NAME)
    mcfg = metric_config(params)
    base, _ = evaluate_run(first, ds.qrels, mcfg, query_ids=qids)
    llm, _ = evaluate_run(run, ds.qrels, mcfg, query_ids=qids)
    stats = asdict(RerankStats.of(results))
    logger.info("%s: %d queries re-ranked in %.1fs, %s", ds.name, len(qids), seconds, stats)
    return {**stats, "seconds": round(seconds, 3), "metrics": {"first_stage": base, NAME: llm}}


def sample_prompt(reranker: LLMReranker, ds: Dataset, cfg: LLMConfig, stage: Path) -> str:
    """The first window of the first selected query, rendered as the model sees it."""
    queries = selected_queries(ds, cfg)
    items = candidate_lists(ds, read_run(stage / f"{ds.name}.trec"), queries[:1], cfg.depth, stage)
    query, cands = items[0]
    return reranker.backend.render(reranker.messages(query, cands[: cfg.window]))


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


def run(params: dict[str, Any], backend: LLMBackend | None = None) -> dict[str, Any]:
    """Re-rank, write the runs and the report; `backend` overrides the configured one."""
    cfg = LLMConfig.from_mapping(params.get("llm"))
    out = Path(params["paths"]["runs"]) / NAME
    shutil.rmtree(out, ignore_errors=True)  # no stale run file may reach `evaluate`
    out.mkdir(parents=True)
    report: dict[str, Any] = {
        "backend": cfg.backend,
        "model": cfg.model_name,
        "adapter": cfg.adapter,
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
    backend = backend or build_backend(cfg)
    template = PromptTemplate.from_config(cfg.prompt)
    reranker = LLMReranker(backend, template, cfg.window, cfg.step, cfg.depth)
    (out / "prompt_sample.txt").write_text(sample_prompt(reranker, datasets[0], cfg, stage))
    per_dataset = {ds.name: rerank_dataset(params, cfg, reranker, ds, stage) for ds in datasets}
    report.update(
        status="ok",
        reason=None,
        available=reason,
        first_stage=name,
        backend_name=backend.name,
        datasets=per_dataset,
        datasets_skipped=missing,
    )
    return finish(params, out, report)


def finish(params: dict[str, Any], out: Path, report: dict[str, Any]) -> dict[str, Any]:
    write_json(out / "status.json", {"status": report["status"], "reason": report.get("reason")})
    write_json(Path(params["paths"]["reports"]) / f"{NAME}.json", report)
    return report


def flat_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The report's numbers as MLflow metrics (`default.repair_share`, `default.test...`)."""
    out = {"skipped": float(report["status"] != "ok")}
    for ds, stats in report.get("datasets", {}).items():
        for key in (*STAT_KEYS, "seconds", "prompt_tokens", "completion_tokens"):
            out[f"{ds}.{key}"] = float(stats[key])
        if stats["mean_latency_s"] > 0 and stats["n_calls"]:
            tokens_per_call = stats["completion_tokens"] / stats["n_calls"]
            out[f"{ds}.completion_tokens_per_s"] = tokens_per_call / stats["mean_latency_s"]
        for run_name, values in stats["metrics"].items():
            for metric, value in values.items():
                out[f"{ds}.{run_name}.{metric}"] = float(value)
    return out


def main() -> None:
    params = start()
    with tracked(NAME, params, params.get("llm", {})):
        report = run(params)
        log_metrics(flat_metrics(report))
        reports = Path(params["paths"]["reports"])
        log_artifact(reports / f"{NAME}.json", NAME)
        prompt = Path(params["paths"]["runs"]) / NAME / "prompt_sample.txt"
        if prompt.exists():
            log_artifact(prompt, NAME)


if __name__ == "__main__":
    main()
