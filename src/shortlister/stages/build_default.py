"""Stage: build the bundled default dataset offline (python -m shortlister.stages.build_default)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from shortlister.data.default.build import generate_default_dataset, write_default_dataset
from shortlister.data.default.config import GenerateConfig
from shortlister.stages.common import start, tracked
from shortlister.stages.tracking import log_artifact, log_metrics

logger = logging.getLogger(__name__)


def run(params: dict[str, Any]) -> dict[str, float]:
    cfg = GenerateConfig.from_config(params["data"]["default"])
    dataset = generate_default_dataset(cfg)
    counts = write_default_dataset(dataset, Path(params["paths"]["raw_default"]))
    logger.info("default dataset: %s", counts)
    return {k: float(v) for k, v in counts.items()}


def main() -> None:
    params = start()
    with tracked("build_default", params, params["data"]["default"]):
        log_metrics(run(params))
        log_artifact(Path(params["paths"]["raw_default"]) / "queries.tsv")


if __name__ == "__main__":
    main()
