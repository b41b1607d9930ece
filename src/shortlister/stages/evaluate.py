"""Stage: score every method's run files on every dataset and split.

Writes reports/metrics.json (the DVC metric the CI gate reads), a comparison table
and plot, per-query scores, and one MLflow child run per method so `mlflow ui`
compares methods side by side. Last, reports/timings.json and .md: every stage's wall
time (stages/timings.py), this one's included.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pandas as pd

from shortlister.data.datasets import Dataset, external_status, load_datasets
from shortlister.evaluation.figures import HEADLINE_METRIC, save_comparison
from shortlister.evaluation.metrics import MetricConfig, evaluate_run, metric_names
from shortlister.evaluation.significance import paired_table
from shortlister.evaluation.trec import read_run
from shortlister.stages.common import stage_timing, start, tracked, write_json
from shortlister.stages.timings import write_timings
from shortlister.stages.tracking import child_run, log_artifact, log_metrics

logger = logging.getLogger(__name__)


def evaluate_method(
    method: str,
    datasets: list[Dataset],
    runs_dir: Path,
    cfg: MetricConfig,
    run_queries_only: bool = False,
) -> tuple[dict[str, dict[str, dict[str, float]]], pd.DataFrame]:
    """{dataset: {split: {metric: value}}} and the per-query rows of one method.

    run_queries_only: score only the queries the run ranks (a sample, as the `llm` stage's),
    and leave out splits with none of them, instead of scoring missing queries as 0.
    """
    results: dict[str, dict[str, dict[str, float]]] = {}
    per_query = []
    for ds in datasets:
        run = read_run(runs_dir / method / f"{ds.name}.trec")
        results[ds.name] = {}
        for split in ds.splits:
            qids = ds.queries.loc[ds.queries["split"] == split, "query_id"].tolist()
            if run_queries_only:
                qids = [q for q in qids if q in run]
                if not qids:
                    continue
            means, rows = evaluate_run(run, ds.qrels, cfg, query_ids=qids)
            results[ds.name][split] = {k: round(float(v), 6) for k, v in means.items()}
            per_query.append(rows.assign(dataset=ds.name, split=split, method=method))
    return results, pd.concat(per_query, ignore_index=True)


CROSS_RUN = "cross-encoder"


def compared_methods(params: dict[str, Any]) -> list[str]:
    """Embedding methods (cosine ranking), the cross-encoder second stage (when configured)
    and learned rankers, each with runs/<name>/."""
    cross = [CROSS_RUN] if "cross" in params else []
    return [*params["methods"], *cross, *params.get("rankers", {})]


def second_stages(params: dict[str, Any]) -> tuple[str, list[str]]:
    """The first stage the second stages re-rank, and the second stages (paired tests)."""
    first = params.get("cross", {}).get("rerank", {}).get("first_stage", "sbert-tuned")
    return first, [m for m in compared_methods(params) if m not in params["methods"]]


LLM_RUN = "llm"


def llm_datasets(params: dict[str, Any], datasets: list[Dataset]) -> list[Dataset]:
    """Datasets the `llm` stage re-ranked (runs/llm/<name>.trec); none when it was skipped."""
    runs = Path(params["paths"]["runs"]) / LLM_RUN
    return [ds for ds in datasets if (runs / f"{ds.name}.trec").exists()]


def evaluated_methods(
    params: dict[str, Any], datasets: list[Dataset]
) -> list[tuple[str, list[Dataset]]]:
    """Every compared method on every dataset, plus `llm` where its stage wrote runs."""
    llm = llm_datasets(params, datasets)
    return [(m, datasets) for m in compared_methods(params)] + ([(LLM_RUN, llm)] if llm else [])


def method_params(params: dict[str, Any], method: str) -> dict[str, Any]:
    if method == LLM_RUN:
        return {k: v for k, v in params.get(LLM_RUN, {}).items() if k != "prompt"}
    return params["methods"].get(method) or params.get("rankers", {}).get(method, {})


COST_COLUMNS = ("fit_seconds", "titles_per_second", "n_encoded", "peak_rss_mb")


def embed_stats(params: dict[str, Any], method: str) -> dict[str, float]:
    path = Path(params["paths"]["embeddings"]) / method / "stats.json"
    return json.loads(path.read_text()) if path.exists() else {}


def in_domain_runs(params: dict[str, Any]) -> set[tuple[str, str]]:
    """(dataset, method) pairs whose figures are NOT unseen: the tuned title encoder
    (`sbert-tuned` or a ranker on its features) on a benchmark in encoder.seen_benchmarks."""
    seen = params.get("encoder", {}).get("seen_benchmarks") or []
    tuned = {m for m, cfg in params["methods"].items() if cfg.get("name") == "sbert-tuned"}
    tuned |= {r for r, cfg in params.get("rankers", {}).items() if cfg.get("encoder") in tuned}
    if "cross" in params and tuned:  # trained on the same sources' titles
        tuned.add(CROSS_RUN)
    return {(dataset, method) for dataset in seen for method in tuned}


def comparison_table(
    metrics: dict[str, Any],
    names: list[str],
    stats: dict[str, dict[str, float]],
    in_domain: Collection[tuple[str, str]] = (),
) -> pd.DataFrame:
    """One row per (dataset, method) on the test split: quality, then cost; `seen` marks
    a method whose encoder trained on that benchmark's titles."""
    rows = []
    for dataset, splits in metrics.items():
        for method, values in splits.get("test", {}).items():
            cost = {c: stats.get(method, {}).get(f"{dataset}.{c}") for c in COST_COLUMNS}
            quality = {n: values.get(n) for n in [*names, "n_queries"]}
            rows.append(
                {
                    "dataset": dataset,
                    "method": method,
                    "run": f"{dataset}/{method}",
                    **quality,
                    **cost,
                    "seen": "yes" if (dataset, method) in in_domain else "",
                }
            )
    return pd.DataFrame(rows)


SEEN_NOTE = (
    "`seen = yes`: the tuned title encoder trained on this benchmark's titles "
    "(`encoder.seen_benchmarks`), so the row is in-domain, not a result on unseen titles."
)


def plot_comparison(table: pd.DataFrame, names: list[str], path: Path) -> None:
    """reports/figures/comparison.png: MAP (the headline, the sort key) and NDCG@k per
    benchmark; every metric is in comparison.md."""
    metrics = [HEADLINE_METRIC, *[n for n in names if n.startswith("ndcg@")][:1]]
    save_comparison(table, path, metrics)


def write_significance(params: dict[str, Any], per_query: pd.DataFrame, reports: Path) -> None:
    """reports/significance.{json,md}: each second stage against the first stage it
    re-ranks, paired per query (t-test, Wilcoxon, bootstrap CI of the mean difference)."""
    first, seconds = second_stages(params)
    present = [m for m in seconds if m in set(per_query["method"])]
    if first not in set(per_query["method"]) or not present:
        return
    table = paired_table(per_query, first, present)
    write_json(reports / "significance.json", {"baseline": first, "rows": table.to_dict("records")})
    shown = table[
        [
            "dataset",
            "split",
            "method",
            "metric",
            "baseline_mean",
            "method_mean",
            "mean_diff",
            "ci_low",
            "ci_high",
            "p_t",
            "p_wilcoxon",
            "wins",
            "losses",
            "n_queries",
        ]
    ]
    (reports / "significance.md").write_text(
        f"Paired per-query tests against `{first}` (the first stage the second stages "
        "re-rank). `mean_diff` = method - baseline; CI: bootstrap 95%.\n\n"
        + shown.to_markdown(index=False, floatfmt=".4f")
        + "\n"
    )


def run(params: dict[str, Any]) -> dict[str, Any]:
    cfg = MetricConfig.from_config(params["evaluation"])
    names = metric_names(cfg)
    datasets = load_datasets(params)
    reports = Path(params["paths"]["reports"])
    metrics: dict[str, Any] = {ds.name: {} for ds in datasets}
    per_query = []
    for method, sets in evaluated_methods(params, datasets):
        results, rows = evaluate_method(
            method, sets, Path(params["paths"]["runs"]), cfg, run_queries_only=method == LLM_RUN
        )
        per_query.append(rows)
        for dataset, splits in results.items():
            for split, values in splits.items():
                metrics[dataset].setdefault(split, {})[method] = values
    selected = params["embeddings"]["name"]
    if selected not in params["methods"]:
        raise ValueError(
            f"embeddings={selected} is not among the compared methods "
            f"{sorted(params['methods'])}; add it under methods"
        )
    write_json(reports / "metrics.json", metrics)
    stats = {method: embed_stats(params, method) for method in compared_methods(params)}
    table = comparison_table(metrics, names, stats, in_domain_runs(params))
    (reports / "plots").mkdir(parents=True, exist_ok=True)
    table.to_csv(reports / "plots" / "comparison.csv", index=False)
    (reports / "comparison.md").write_text(
        table.drop(columns="run").to_markdown(
            index=False,
            floatfmt=("", "", *[".4f"] * len(names), ".0f", ".2f", ".0f", ".0f", ".0f", ""),
        )
        + ("\n\n" + SEEN_NOTE if (table["seen"] == "yes").any() else "")
        + "\n"
    )
    plot_comparison(table, names, reports / "figures" / "comparison.png")
    per_query_frame = pd.concat(per_query, ignore_index=True)
    per_query_frame.to_csv(reports / "per_query.csv", index=False)
    write_significance(params, per_query_frame, reports)
    status = {name: external_status(params, name) for name in params["data"]["external"]}
    write_json(
        reports / "benchmarks.json",
        {n: {"status": s["status"], "reason": s.get("reason")} for n, s in status.items()},
    )
    logger.info("test-split comparison:\n%s", table.drop(columns="run").to_string(index=False))
    return metrics


def main() -> None:
    params = start()
    # No reports/timings/evaluate.json: this stage depends on that folder (dvc.yaml).
    with tracked("evaluate", params, params["evaluation"], timing_file=False):
        metrics = run(params)
        reports = Path(params["paths"]["reports"])
        selected = params["embeddings"]["name"]
        for dataset, splits in metrics.items():
            for split, methods in splits.items():
                log_metrics(methods[selected], prefix=f"{dataset}.{split}.")
        has_llm = any(LLM_RUN in m for splits in metrics.values() for m in splits.values())
        for method in [*compared_methods(params), *([LLM_RUN] if has_llm else [])]:
            with child_run(
                f"method-{method}",
                params=method_params(params, method),
                tags={"shortlister.method": method},
            ):
                for dataset, splits in metrics.items():
                    for split, methods in splits.items():
                        if method in methods:  # llm: only the splits it re-ranked
                            log_metrics(methods[method], prefix=f"{dataset}.{split}.")
                log_metrics(embed_stats(params, method), prefix="cost.")
        for name in ("metrics.json", "comparison.md", "figures/comparison.png", "per_query.csv"):
            log_artifact(reports / name)
        timings = write_timings(reports, stage_timing("evaluate"))
        log_metrics({"pipeline_wall_seconds": timings["total_wall_seconds"]})
        log_artifact(reports / "timings.md")


if __name__ == "__main__":
    main()
