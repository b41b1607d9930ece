"""Stage: build the external benchmarks from ../shared/data, or record why not.

The source files live outside the repository and a user's fresh clone has none, so
they are not DVC deps (a missing dep would fail `dvc repro`); their path is a param
and their md5 is recorded in status.json. After adding the data, run
`dvc repro -f -s external` once.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from shortlister.data.clean import CleanConfig, normalise_title
from shortlister.data.datasets import clean_config
from shortlister.data.external import (
    ExternalConfig,
    ExternalDataMissing,
    build_external_benchmark,
    write_benchmark,
)
from shortlister.stages.common import start, tracked, write_json
from shortlister.stages.tracking import log_metrics

logger = logging.getLogger(__name__)


def build_one(
    name: str, cfg: dict[str, Any], out_dir: Path, clean: CleanConfig | None = None
) -> dict[str, Any]:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    knobs = {k: v for k, v in cfg.items() if k != "enabled"}
    if not cfg.get("enabled", True):
        status = {"status": "skipped", "reason": "disabled in config"}
    else:
        try:
            bench = build_external_benchmark(ExternalConfig.from_config({**knobs, "name": name}))
        except ExternalDataMissing as exc:
            status = {"status": "skipped", "reason": str(exc)}
        else:
            # The default pool's cleaning (`data.clean`), so methods see comparable input;
            # the queries get the same when they are loaded (data.datasets.load_queries).
            bench.candidates["title"] = [
                normalise_title(t, clean).title for t in bench.candidates["title"]
            ]
            counts = write_benchmark(bench, out_dir)
            status = {"status": "ok", "counts": counts, "source": bench.source}
    if status["status"] != "ok":
        logger.warning("benchmark %s skipped: %s", name, status["reason"])
    write_json(out_dir / "status.json", status)
    return status


def run(params: dict[str, Any]) -> dict[str, float]:
    root = Path(params["paths"]["external"])
    metrics: dict[str, float] = {}
    clean = clean_config(params)
    for name, cfg in sorted(params["data"]["external"].items()):
        status = build_one(name, cfg, root / name, clean)
        metrics[f"{name}.available"] = float(status["status"] == "ok")
        for key, value in status.get("counts", {}).items():
            metrics[f"{name}.{key}"] = float(value)
    return metrics


def main() -> None:
    params = start()
    with tracked("external", params, params["data"]["external"]):
        log_metrics(run(params))


if __name__ == "__main__":
    main()
