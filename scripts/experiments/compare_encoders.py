"""Compare encoders (zero-shot Sentence-BERT, tuned variants) on the pipeline's datasets.

python scripts/experiments/compare_encoders.py --encoder sbert --encoder models/sbert-tuned \
    --encoder .cache/encoder-checkpoints/<fp>/synonyms-<digest>/checkpoint-250

Cosine ranking and the project's metrics (evaluation.* of params.yaml), per dataset and
split; prints a markdown table and writes JSON with --out. Reads the stages' outputs
(cleaned pool, external benchmarks), so run those first.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from shortlister.data.datasets import load_datasets
from shortlister.evaluation.metrics import MetricConfig
from shortlister.ranking.encoder_eval import encoder_config, evaluate_encoder, table
from shortlister.stages.common import start

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--encoder", action="append", required=True, help="method key or folder")
    parser.add_argument("--name", action="append", help="a label per --encoder")
    parser.add_argument("--split", action="append", help="splits [default: validation, test]")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    params = start()
    datasets = load_datasets(params)
    names = args.name or args.encoder
    splits = tuple(args.split or ("validation", "test"))
    cfg = MetricConfig.from_config(params["evaluation"])
    results = {}
    for name, spec in zip(names, args.encoder, strict=True):
        logger.info("evaluating %s (%s)", name, spec)
        results[name] = evaluate_encoder(
            encoder_config(spec, params), datasets, cfg, params["evaluation"]["run_depth"], splits
        )
    print(table(results, ["map", "ndcg@10", "mrr", "recall@100"]))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
