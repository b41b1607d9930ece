"""Stage: how starring relevant candidates changes NDCG@10 of the remaining ones.

python -m shortlister.stages.starring

Uses the selected method (embeddings.name) with the embeddings the embed stage stored
for the default pool, on the default data's queries of one split (serve.starring.split).
Writes reports/starring.json (a DVC metric) and reports/starring.md.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from shortlister.core.errors import ConfigError
from shortlister.data.datasets import default_dataset
from shortlister.ranking.pool import CandidatePool
from shortlister.ranking.starring import StarringConfig, markdown_table, starring_effect
from shortlister.stages.common import start, tracked, write_json
from shortlister.stages.tracking import log_artifact, log_metrics

logger = logging.getLogger(__name__)


def starring_config(params: dict[str, Any]) -> StarringConfig:
    if "starring" not in params.get("serve", {}):
        raise ConfigError(
            "params have no serve.starring section; add `- serve: default` to the defaults "
            "list of conf/config.yaml and recompose params.yaml"
        )
    ev = params["evaluation"]
    return StarringConfig(**params["serve"]["starring"], ndcg_k=ev["ndcg_k"], gain=ev["gain"])


def run(params: dict[str, Any]) -> dict[str, Any]:
    cfg = starring_config(params)
    method = params["embeddings"]["name"]
    paths = params["paths"]
    dataset = default_dataset(params)
    ranker = CandidatePool.from_stored(
        dataset.candidates,
        Path(paths["models"]) / method / dataset.name,
        Path(paths["embeddings"]) / method / dataset.name,
    )
    queries = dataset.queries[dataset.queries["split"] == cfg.split]
    if queries.empty:
        raise ConfigError(f"serve.starring.split={cfg.split!r}: no {dataset.name} queries")
    vectors = ranker.embedder.encode(queries["query"].tolist())
    result = starring_effect(
        ranker.matrix, ranker.ids, vectors, queries["query_id"].tolist(), dataset.qrels, cfg
    )
    reports = Path(paths["reports"])
    write_json(reports / "starring.json", result.summary)
    header = (
        f"# Starred re-ranking: NDCG@{cfg.ndcg_k} of the remaining candidates\n\n"
        f"Method `{method}`, {dataset.name} data, {len(queries)} {cfg.split} queries. "
        f"Starred: candidates of grade >= {cfg.star_grade}, removed from both rankings and "
        "the judgments before scoring; `w` is the star weight (0 = query only); "
        "brackets: change against the query-only ranking.\n\n"
    )
    table = markdown_table(result.summary, cfg)
    (reports / "starring.md").write_text(header + table + "\n")
    logger.info("starring effect (%s, %s queries):\n%s", method, cfg.split, table)
    return result.summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml", help="params file to read")
    args = parser.parse_args(argv)
    params = start(args.params)
    with tracked("starring", params, params.get("serve", {}).get("starring", {})):
        summary = run(params)
        for selection, by_n in summary.items():
            for n_key, values in by_n.items():
                log_metrics(values, prefix=f"{selection}.{n_key}.")
        log_artifact(Path(params["paths"]["reports"]) / "starring.md")


if __name__ == "__main__":
    main()
