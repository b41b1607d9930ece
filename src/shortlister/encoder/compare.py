"""Compare encoders (zero-shot Sentence-BERT, tuned variants) on the pipeline's datasets.

python -m shortlister.encoder.compare --encoder sbert --encoder models/sbert-tuned \
    --encoder ~/.cache/shortlister/encoder-checkpoints/<fp>/synonyms/checkpoint-250

Cosine ranking and the project's metrics (evaluation.* of params.yaml), per dataset and
split; prints a markdown table and writes JSON with --out. Reads the stages' outputs
(cleaned pool, external benchmarks), so run those first.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from shortlister.data.datasets import Dataset, load_datasets
from shortlister.embeddings.base import build_embedder
from shortlister.evaluation.metrics import MetricConfig, evaluate_run
from shortlister.ranking.cosine import cosine_scores, rank

logger = logging.getLogger(__name__)


def encoder_config(spec: str, params: dict[str, Any]) -> dict[str, Any]:
    """A method key of params (`sbert`, `sbert-tuned`) or a model folder (run as sbert-tuned)."""
    if spec in params["methods"]:
        return dict(params["methods"][spec])
    base = dict(params["methods"].get("sbert-tuned", {"name": "sbert-tuned"}))
    return {**base, "model": spec}


def evaluate_encoder(
    method_cfg: dict[str, Any],
    datasets: list[Dataset],
    metric_cfg: MetricConfig,
    depth: int,
    splits: tuple[str, ...] = ("validation", "test"),
) -> dict[str, dict[str, dict[str, float]]]:
    """{dataset: {split: metrics}} of cosine ranking with this encoder."""
    embedder = build_embedder(method_cfg)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for ds in datasets:
        ids = ds.candidates["id"].tolist()
        matrix = embedder.fit(ds.candidates["title"].tolist()).encode(
            ds.candidates["title"].tolist()
        )
        scores = cosine_scores(matrix, embedder.encode(ds.queries["query"].tolist()))
        run = {qid: rank(ids, scores[i], depth) for i, qid in enumerate(ds.queries["query_id"])}
        for split in splits:
            qids = ds.queries.loc[ds.queries["split"] == split, "query_id"].tolist()
            if qids:
                means, _ = evaluate_run(run, ds.qrels, metric_cfg, query_ids=qids)
                out.setdefault(ds.name, {})[split] = {
                    k: round(float(v), 4) for k, v in means.items()
                }
    return out


def table(results: dict[str, dict[str, dict[str, dict[str, float]]]], metrics: list[str]) -> str:
    rows = [
        {"dataset": ds, "split": split, "encoder": name, **{m: values.get(m) for m in metrics}}
        for name, per_ds in results.items()
        for ds, per_split in per_ds.items()
        for split, values in per_split.items()
    ]
    frame = pd.DataFrame(rows).sort_values(["dataset", "split"], kind="stable")
    return frame.to_markdown(index=False, floatfmt=".4f")


def main(argv: list[str] | None = None) -> None:
    from shortlister.stages.common import start
    from shortlister.stages.evaluate import metric_config

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
    cfg = metric_config(params)
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
