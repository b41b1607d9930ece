"""`shortlister rank` searches a pool at or above index.min_pool through an ANN index."""

from __future__ import annotations

import csv

import yaml

from shortlister.core.params import compose
from tests.test_cli import _ids, _run

TITLES = [
    "Aspiring Human Resources Professional",
    "Human Resources Generalist",
    "Senior HR Business Partner",
    "Registered Nurse",
    "Software Engineer",
    "Data Analyst",
    "Payroll Specialist",
    "Talent Acquisition Coordinator",
]


def _params(tmp_path, root, min_pool: int):
    params = compose(config_dir=root / "conf")
    params["index"].update(min_pool=min_pool, ef_search=256)
    path = tmp_path / f"params-{min_pool}.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_rank_through_the_index_agrees_with_the_exact_scan(tmp_path, root, caplog):
    pool = tmp_path / "pool.csv"
    with pool.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "title", "location", "screening_score"])
        for i in range(400):  # 400 distinct headlines
            writer.writerow([f"c{i}", f"{TITLES[i % len(TITLES)]} at Company {i}", "Berlin", 50])
    args = ["rank", "--candidates", str(pool), "--method", "sbert", "--top-k", "10"]
    query = ["--query", "human resources", "--star", "c3"]
    indexed = _run([*args, *query, "--params", str(_params(tmp_path, root, 100))], tmp_path)
    assert "building a faiss-hnsw index" in caplog.text  # logged: no stored index
    caplog.clear()
    exact = _run([*args, *query, "--params", str(_params(tmp_path, root, 10_000))], tmp_path)
    assert "index" not in caplog.text
    assert indexed.exit_code == 0 and exact.exit_code == 0, indexed.output + exact.output
    a, b = _ids(indexed.output), _ids(exact.output)
    assert a[0] == b[0] == "c3"  # the star stays pinned
    assert len(set(a) & set(b)) >= 9
