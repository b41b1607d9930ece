"""Issue 14: choose the default LLM scorer (pointwise or listwise) on VALIDATION queries.

Runs the `llm` stage's evaluation on the default data's validation queries (never the
test queries the stage reports, never O*NET) for both scorers, zero-shot and tuned (the
adapters under `llm.adapters_dir`), and prints each variant's NDCG@10 gain over the first
stage per CPU second of a query. The scorer whose tuned variant gains most per CPU second
is the default (`llm.scorer`).

python scripts/experiments/llm_scorer_choice.py --params params.yaml \
    --out reports/experiments/llm_scorer_choice.json [llm.first_stage=sbert ...]
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
from pathlib import Path

from shortlister.core.logs import configure_logging
from shortlister.core.params import load_params
from shortlister.stages import llm as llm_stage
from shortlister.stages.finetune import apply_overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument(
        "--out", type=Path, default=Path("reports/experiments/llm_scorer_choice.json")
    )
    parser.add_argument("overrides", nargs="*", help="key=value, e.g. llm.first_stage=sbert")
    args = parser.parse_args()
    configure_logging()
    params = apply_overrides(copy.deepcopy(load_params(args.params)), args.overrides)
    params["llm"]["evaluation"] = {
        **params["llm"]["evaluation"],
        "datasets": ["default"],
        "splits": ["validation"],
    }
    with tempfile.TemporaryDirectory(prefix="shortlister-scorer-") as tmp:
        runs = Path(tmp) / "runs"
        for name in (params["llm"]["first_stage"], params["llm"]["first_stage_fallback"]):
            source = Path(params["paths"]["runs"]) / str(name)
            if source.is_dir():
                (runs / str(name)).mkdir(parents=True)
                for f in source.glob("*.trec"):
                    (runs / str(name) / f.name).write_bytes(f.read_bytes())
        params["paths"] = {**params["paths"], "runs": str(runs), "reports": str(Path(tmp) / "r")}
        report = llm_stage.run(params)
    if report["status"] != "ok":
        raise SystemExit(f"llm evaluation skipped: {report.get('reason')}")
    entry = report["datasets"]["default"]
    choice = {
        "split": "validation",
        "query_ids": entry["query_ids"],
        "first_stage": report["first_stage"],
        "first_stage_metrics": entry["first_stage"],
        "variants": {
            name: {
                "map": v["metrics"]["map"],
                "ndcg@10": v["metrics"]["ndcg@10"],
                "cpu_seconds_per_query": v["cpu_seconds_per_query"],
                "seconds_per_query": v["seconds_per_query"],
                "repair_share": v.get("repair_share"),
            }
            for name, v in entry["variants"].items()
        },
        "per_cpu_second": report["per_cpu_second"]["default"],
    }
    tuned = {k: v for k, v in choice["per_cpu_second"].items() if k.endswith("/tuned")}
    pool = tuned or choice["per_cpu_second"]
    gaining = {k: v for k, v in pool.items() if v["ndcg@10_gain"] > 0}
    if gaining:  # the most gain per CPU second
        best = max(gaining, key=lambda k: gaining[k]["ndcg@10_gain_per_cpu_second"])
        choice["rule"] = "most NDCG@10 gain over the first stage per CPU second"
    else:  # none beats the first stage: the least loss, then the cheaper
        best = max(pool, key=lambda k: (pool[k]["ndcg@10_gain"], -pool[k]["cpu_seconds_per_query"]))
        choice["rule"] = "no variant beats the first stage: the smallest NDCG@10 loss"
    choice["chosen"] = best
    choice["chosen_scorer"] = best.split("/")[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(choice, indent=2) + "\n")
    print(json.dumps(choice, indent=2))


if __name__ == "__main__":
    main()
