"""Per-query paired tests: does a method beat a baseline on the same queries?

A difference of means over 16 or 293 queries says little by itself; each query is scored
by both methods, so the test is on the per-query differences: a paired t-test, the
Wilcoxon signed-rank test (no normality assumed) and a seeded bootstrap 95% interval of
the mean difference. `paired_table` runs them for every (dataset, split, method, metric)
of the evaluate stage's per-query frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

BOOTSTRAP = 10_000


def paired_test(method: np.ndarray, baseline: np.ndarray, seed: int = 13) -> dict[str, float]:
    """Mean difference (method - baseline), its bootstrap 95% CI, t-test and Wilcoxon p."""
    from scipy import stats

    method, baseline = np.asarray(method, float), np.asarray(baseline, float)
    if method.shape != baseline.shape:
        raise ValueError(f"paired test needs the same queries: {method.shape} vs {baseline.shape}")
    diff = method - baseline
    n = len(diff)
    out = {"n_queries": n, "mean_diff": float(diff.mean()) if n else float("nan")}
    out["wins"], out["losses"] = int((diff > 1e-12).sum()), int((diff < -1e-12).sum())
    if n < 2 or not np.any(np.abs(diff) > 1e-12):
        return {
            **out,
            "ci_low": out["mean_diff"],
            "ci_high": out["mean_diff"],
            "p_t": 1.0,
            "p_wilcoxon": 1.0,
        }
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, n, size=(BOOTSTRAP, n))].mean(axis=1)
    out["ci_low"], out["ci_high"] = (float(v) for v in np.percentile(means, [2.5, 97.5]))
    out["p_t"] = float(stats.ttest_rel(method, baseline).pvalue)
    out["p_wilcoxon"] = float(stats.wilcoxon(diff, zero_method="zsplit").pvalue)
    return out


def paired_table(
    per_query: pd.DataFrame,
    baseline: str,
    methods: Sequence[str],
    metrics: Sequence[str] = ("map", "ndcg@10"),
) -> pd.DataFrame:
    """One row per (dataset, split, method, metric): the method against `baseline`."""
    rows = []
    base = per_query[per_query["method"] == baseline]
    for method in methods:
        mine = per_query[per_query["method"] == method]
        joined = mine.merge(base, on=["dataset", "split", "query_id"], suffixes=("", "_base"))
        for (dataset, split), group in joined.groupby(["dataset", "split"], sort=True):
            for metric in metrics:
                test = paired_test(group[metric].to_numpy(), group[f"{metric}_base"].to_numpy())
                rows.append(
                    {
                        "dataset": dataset,
                        "split": split,
                        "method": method,
                        "baseline": baseline,
                        "metric": metric,
                        "method_mean": float(group[metric].mean()),
                        "baseline_mean": float(group[f"{metric}_base"].mean()),
                        **test,
                    }
                )
    return pd.DataFrame(rows)
