from __future__ import annotations

from pathlib import Path

import pytest

from shortlister.data.generate import GenerateConfig, generate_default_dataset, write_csv


@pytest.fixture(scope="session")
def small_pool_csv(tmp_path_factory) -> Path:
    """600 generated candidates (messy titles, some rejected by cleaning), as a CSV."""
    ds = generate_default_dataset(GenerateConfig(n_candidates=600, n_queries=5))
    path = tmp_path_factory.mktemp("pool") / "candidates.csv"
    write_csv(ds.candidates, path)
    return path
