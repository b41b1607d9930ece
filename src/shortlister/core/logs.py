"""Logging, configured once by each entry point."""

from __future__ import annotations

import logging
import os


def configure_logging(level: str | int | None = None) -> None:
    level = level or os.environ.get("SHORTLISTER_LOG_LEVEL", "INFO")
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # Third-party chatter that hides our own progress messages.
    for noisy in ("alembic", "mlflow", "urllib3", "httpx", "sentence_transformers", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
