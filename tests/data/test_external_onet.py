"""The O*NET benchmark: held-out alternate titles as queries, grades by SOC hierarchy."""

from __future__ import annotations

from pathlib import Path

import pytest

from shortlister.core.errors import DataError
from shortlister.data.external import (
    ExternalConfig,
    ExternalDataMissing,
    build_external_benchmark,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ONET = SHARED / "onet_alternate_titles.tsv"
HEADER = "O*NET-SOC Code\tTitle\tAlternate Title\tShort Title\tSource(s)\n"
ROWS = [
    ("13-1071.00", "Human Resources Specialists", "Personnel Recruiter"),
    ("13-1071.00", "Human Resources Specialists", "Talent Acquisition Specialist"),
    ("13-1071.00", "Human Resources Specialists", "HR Generalist"),
    ("13-1075.00", "Labor Relations Specialists", "Labor Relations Consultant"),
    ("13-1141.00", "Compensation Analysts", "Compensation Analyst"),
    ("29-1141.00", "Registered Nurses", "Staff Nurse"),
]


def _write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text(HEADER + "".join(f"{c}\t{t}\t{a}\t\t08\n" for c, t, a in rows))
    return path


def test_onet_grades_and_held_out_queries(tmp_path: Path) -> None:
    path = _write(tmp_path / "onet_alternate_titles.tsv", ROWS)
    bench = build_external_benchmark(ExternalConfig(name="onet", path=str(path), max_queries=5))
    assert len(bench.queries) == 1  # only 13-1071.00 has >= 3 titles
    query = bench.queries["query"].iloc[0]
    assert query in {"Personnel Recruiter", "Talent Acquisition Specialist", "HR Generalist"}
    assert query not in set(bench.candidates["title"])  # held out of the pool
    grades = dict(
        zip(
            bench.candidates.set_index("id").loc[bench.qrels["candidate_id"], "title"],
            bench.qrels["grade"],
            strict=True,
        )
    )
    assert grades["Labor Relations Consultant"] == 2  # broad group 13-107
    assert grades["Compensation Analyst"] == 1  # minor group 13-1
    assert "Staff Nurse" not in grades
    assert sorted(v for k, v in grades.items() if v == 3) == [3, 3]
    assert (bench.queries["split"] == "test").all()


def test_onet_missing_file_and_bad_code(tmp_path: Path) -> None:
    with pytest.raises(ExternalDataMissing, match="onet source file not found"):
        build_external_benchmark(ExternalConfig(name="onet", path=str(tmp_path / "nope.tsv")))
    bad = _write(tmp_path / "bad.tsv", [*ROWS[:2], ("13-1071", "X", "Y")])
    with pytest.raises(DataError, match=r"row 3.*O\*NET-SOC Code"):
        build_external_benchmark(ExternalConfig(name="onet", path=str(bad)))


@pytest.mark.skipif(not ONET.is_file(), reason=f"O*NET file not present at {ONET}")
def test_onet_real_file_is_deterministic() -> None:
    cfg = ExternalConfig(name="onet", path=str(ONET), max_queries=50, max_candidates=2000)
    first, second = build_external_benchmark(cfg), build_external_benchmark(cfg)
    assert first.queries.equals(second.queries) and first.qrels.equals(second.qrels)
    assert len(first.candidates) == 2000 and 0 < len(first.queries) <= 50
    held = set(first.queries["query"].str.casefold())
    assert not held & set(first.candidates["title"].str.casefold())
    assert set(first.qrels["grade"]) == {1, 2, 3}
