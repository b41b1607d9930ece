"""Stage: validate and clean the candidate table (python -m shortlister.stages.clean)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from shortlister.core.outputs import guard_outputs, write_parquet
from shortlister.data.clean import CleanConfig, clean_candidates, write_rejects, write_warnings
from shortlister.data.loader import load_candidates
from shortlister.stages.common import start, tracked, write_json
from shortlister.stages.tracking import log_artifact, log_metrics

logger = logging.getLogger(__name__)


def run(params: dict[str, Any]) -> dict[str, float]:
    paths = params["paths"]
    source = Path(paths["raw_default"]) / "candidates.csv"
    interim = Path(paths["interim"])
    report = Path(paths["reports"]) / "clean.json"
    outputs = {
        "the cleaned pool": interim / "candidates.parquet",
        "the rejects file": interim / "rejects.csv",
        "the warnings file": interim / "warnings.csv",
        "the clean report": report,
    }
    guard_outputs(outputs, {"the candidate file": source, "the params file": "params.yaml"})
    cfg = CleanConfig.from_config(params["data"]["clean"])
    result = clean_candidates(load_candidates(source), cfg)
    write_parquet(result.clean, interim / "candidates.parquet")
    write_rejects(result.rejects, interim / "rejects.csv")
    write_warnings(result.warnings, interim / "warnings.csv")
    counts = {k: float(v) for k, v in result.counts.items()}
    write_json(report, counts)
    logger.info(
        "clean: %d kept, %d rejected (see %s)",
        result.counts["n_clean"],
        result.counts["n_rejected"],
        interim / "rejects.csv",
    )
    return counts


def main() -> None:
    params = start()
    with tracked("clean", params, params["data"]["clean"]):
        log_metrics(run(params))
        log_artifact(Path(params["paths"]["interim"]) / "rejects.csv")


if __name__ == "__main__":
    main()
