"""Cosine ranking quality of an encoder (zero-shot Sentence-BERT, tuned variants) on the
pipeline's datasets: the figures `scripts/experiments/compare_encoders.py` and
`scripts/experiments/encoder_variant.py` print, and `benchmarks/encode_throughput.py`
reports per ONNX backend.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shortlister.data.datasets import Dataset
from shortlister.embeddings.base import build_embedder
from shortlister.evaluation.metrics import MetricConfig, evaluate_run
from shortlister.ranking.cosine import cosine_scores, rank


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
