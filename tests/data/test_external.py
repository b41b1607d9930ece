"""External benchmarks from ../shared/data: grades follow the taxonomy, failures are clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from shortlister.core.errors import ConfigError, DataError
from shortlister.data.external import (
    Benchmark,
    ExternalConfig,
    ExternalDataMissing,
    build_external_benchmark,
    write_benchmark,
)
from shortlister.evaluation.trec import read_qrels, read_queries

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
BLS = SHARED / "bls_soc_2018_direct_match_titles.tsv"
ESCO = SHARED / "esco_occupations_en.csv"

needs_bls = pytest.mark.skipif(not BLS.is_file(), reason=f"BLS SOC file not present at {BLS}")
needs_esco = pytest.mark.skipif(not ESCO.is_file(), reason=f"ESCO file not present at {ESCO}")


def _grade(bench: Benchmark, query: str, title: str) -> int:
    """Grade of the (first) candidate with `title` for `query`; 0 when unjudged."""
    qid = bench.queries.set_index("query").loc[query, "query_id"]
    cid = bench.candidates.drop_duplicates("title").set_index("title").loc[title, "id"]
    hit = bench.qrels[(bench.qrels["query_id"] == qid) & (bench.qrels["candidate_id"] == cid)]
    return int(hit["grade"].iloc[0]) if len(hit) else 0


@pytest.fixture(scope="module")
def bls_all() -> Benchmark:
    return build_external_benchmark(ExternalConfig(path=str(BLS), max_queries=10_000))


@needs_bls
def test_bls_grades_follow_the_soc_hierarchy(bls_all: Benchmark) -> None:
    query = "Human Resources Specialists"  # 13-1071
    assert _grade(bls_all, query, "Personnel Recruiter") == 3
    assert _grade(bls_all, query, "Human Resources Generalist") == 3
    assert _grade(bls_all, query, "Labor Relations Consultant") == 2  # 13-1075, broad 13-107
    assert _grade(bls_all, query, "Compensation Analyst") == 1  # 13-1141, minor 13-1
    assert _grade(bls_all, query, "Accountant") == 0  # 13-2011, another minor group


@needs_bls
def test_bls_shape(bls_all: Benchmark) -> None:
    assert list(bls_all.candidates.columns) == ["id", "title"]
    assert bls_all.candidates["id"].is_unique
    assert bls_all.candidates["id"].iloc[0] == "bls-00001"
    assert 6500 <= len(bls_all.candidates) <= 6539  # within-code duplicates merged
    assert (bls_all.queries["split"] == "test").all()
    assert bls_all.queries["query"].is_unique
    assert set(bls_all.qrels["grade"]) == {1, 2, 3}
    assert bls_all.source["rows"] == 6539 and len(bls_all.source["md5"]) == 32


@needs_bls
def test_bls_default_is_deterministic_and_capped() -> None:
    cfg = ExternalConfig(path=str(BLS))
    first, second = build_external_benchmark(cfg), build_external_benchmark(cfg)
    assert len(first.queries) == 200
    assert first.queries.equals(second.queries) and first.qrels.equals(second.qrels)


@needs_bls
def test_subsampling_keeps_an_answer_for_every_query() -> None:
    bench = build_external_benchmark(
        ExternalConfig(path=str(BLS), max_candidates=300, max_queries=50)
    )
    assert len(bench.candidates) == 300
    assert 0 < len(bench.queries) <= 50
    top = bench.qrels[bench.qrels["grade"] == 3].groupby("query_id").size()
    assert set(top.index) == set(bench.queries["query_id"])
    assert set(bench.qrels["candidate_id"]) <= set(bench.candidates["id"])


@needs_bls
def test_write_benchmark_round_trips(tmp_path: Path) -> None:
    bench = build_external_benchmark(
        ExternalConfig(path=str(BLS), max_candidates=500, max_queries=20)
    )
    counts = write_benchmark(bench, tmp_path)
    assert counts["candidates"] == 500 and counts["queries"] == len(bench.queries)
    assert (tmp_path / "candidates.csv").read_text().startswith("id,title\n")
    assert list(read_queries(tmp_path / "queries.tsv")["query"]) == list(bench.queries["query"])
    assert sum(len(v) for v in read_qrels(tmp_path / "qrels.txt").values()) == len(bench.qrels)


def test_missing_file_raises_external_data_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nope.tsv"
    with pytest.raises(ExternalDataMissing, match="nope.tsv"):
        build_external_benchmark(ExternalConfig(path=str(missing)))


def test_tsv_missing_a_column_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "titles.tsv"
    path.write_text(
        "2018 SOC Code\t2018 SOC Title\tIllustrative Example\n"
        "13-1071\tHuman Resources Specialists\t\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError, match="2018 SOC Direct Match Title") as info:
        build_external_benchmark(ExternalConfig(path=str(path)))
    assert info.value.path == str(path)


def test_bad_soc_code_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "titles.tsv"
    path.write_text(
        "2018 SOC Code\t2018 SOC Title\t2018 SOC Direct Match Title\tIllustrative Example\n"
        "13-1071\tHuman Resources Specialists\tPersonnel Recruiter\t\n"
        "131071\tHuman Resources Specialists\tStaffing Coordinator\t\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as info:
        build_external_benchmark(ExternalConfig(path=str(path)))
    assert info.value.row == 2 and info.value.field == "2018 SOC Code"


@pytest.mark.parametrize(
    "bad", [{"name": "nope"}, {"max_queries": 0}, {"max_candidates": 0}, {"path": ""}]
)
def test_config_validation(bad: dict) -> None:
    with pytest.raises(ConfigError):
        ExternalConfig(**bad)


def test_default_paths_follow_the_name() -> None:
    assert ExternalConfig().path == "../shared/data/bls_soc_2018_direct_match_titles.tsv"
    assert ExternalConfig(name="esco").path.endswith("esco_occupations_en.csv")


@needs_esco
def test_esco_grades_follow_isco_groups() -> None:
    bench = build_external_benchmark(
        ExternalConfig(name="esco", path=str(ESCO), max_queries=10_000)
    )
    query = "human resources officer"  # ISCO 2423
    assert _grade(bench, query, "HR rep") == 3
    assert _grade(bench, query, "head hunter") == 2  # recruitment consultant, also 2423
    assert _grade(bench, query, "staffing manager") == 0  # human resources manager, 1212
    assert bench.candidates["id"].iloc[0] == "esco-00001"
    assert set(bench.qrels["grade"]) == {1, 2, 3}
    top = bench.qrels[bench.qrels["grade"] == 3].groupby("query_id").size()
    assert set(top.index) == set(bench.queries["query_id"])
