from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shortlister.core.errors import DataError
from shortlister.evaluation.trec import (
    qrels_from_frame,
    read_qrels,
    read_queries,
    read_run,
    write_qrels,
    write_run,
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_run_round_trip_creates_parents_and_sorts_queries(tmp_path: Path) -> None:
    run = {
        "q2": [("c9", 0.5), ("c1", 0.25)],
        "q1": [("c3", 1.0), ("c2", 0.1234567), ("c4", -2.0)],
    }
    path = tmp_path / "runs" / "deep" / "tfidf.run"

    write_run(path, run, tag="tfidf")

    lines = path.read_text().splitlines()
    assert lines[0] == "q1 Q0 c3 1 1.000000 tfidf"
    assert lines[1] == "q1 Q0 c2 2 0.123457 tfidf"
    assert lines[3] == "q2 Q0 c9 1 0.500000 tfidf"
    back = read_run(path)
    assert list(back) == ["q1", "q2"]
    assert [cid for cid, _ in back["q1"]] == ["c3", "c2", "c4"]
    assert back["q1"][1][1] == pytest.approx(0.123457)
    assert back["q2"] == [("c9", 0.5), ("c1", 0.25)]


def test_qrels_round_trip(tmp_path: Path) -> None:
    qrels = {"q1": {"c1": 3, "c2": 0}, "q2": {"c5": 1, "c7": -1}}
    path = tmp_path / "sub" / "test.qrels"

    write_qrels(path, qrels)

    assert path.read_text().splitlines()[0] == "q1 0 c1 3"
    assert read_qrels(path) == qrels


def test_read_run_accepts_gaps_in_ranks_and_blank_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.run", "q1 Q0 a 1 3.0 t\n\nq1\tQ0  b 5 2.0 t\n")

    assert read_run(path) == {"q1": [("a", 3.0), ("b", 2.0)]}


@pytest.mark.parametrize(
    ("content", "line", "needle"),
    [
        ("q1 Q0 a 1 0.5 t\nq1 Q0 b 2 0.4\n", 2, "expected 6"),
        ("q1 Q0 a one 0.5 t\n", 1, "integer rank"),
        ("q1 Q0 a 1 high t\n", 1, "number for score"),
        ("q1 Q0 a 1 nan t\n", 1, "number for score"),
        ("q1 Q0 a 2 0.5 t\nq2 Q0 a 1 0.5 t\nq1 Q0 b 2 0.4 t\n", 3, "ranks must increase"),
        ("q1 Q0 a 1 0.5 t\nq1 Q0 a 2 0.4 t\n", 2, "appears twice"),
    ],
)
def test_read_run_rejects_malformed_lines(
    tmp_path: Path, content: str, line: int, needle: str
) -> None:
    path = _write(tmp_path / "bad.run", content)

    with pytest.raises(DataError, match=needle) as excinfo:
        read_run(path)

    assert excinfo.value.row == line
    assert excinfo.value.path == str(path)
    assert f"row {line}" in str(excinfo.value)


@pytest.mark.parametrize(
    ("content", "line", "needle"),
    [
        ("q1 0 a 1\nq1 0 b\n", 2, "expected 4"),
        ("q1 0 a 1 extra\n", 1, "expected 4"),
        ("q1 0 a relevant\n", 1, "integer grade"),
        ("q1 0 a 1\nq1 0 a 2\n", 2, "judged twice"),
    ],
)
def test_read_qrels_rejects_malformed_lines(
    tmp_path: Path, content: str, line: int, needle: str
) -> None:
    path = _write(tmp_path / "bad.qrels", content)

    with pytest.raises(DataError, match=needle) as excinfo:
        read_qrels(path)

    assert excinfo.value.row == line
    assert str(path) in str(excinfo.value)


def test_missing_file_raises_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_run(tmp_path / "nope.run")


def test_write_run_rejects_ids_with_whitespace(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="candidate_id"):
        write_run(tmp_path / "r.run", {"q1": [("jane doe", 1.0)]}, tag="t")
    with pytest.raises(DataError, match="tag"):
        write_run(tmp_path / "r.run", {"q1": [("c1", 1.0)]}, tag="my tag")


def test_qrels_from_frame() -> None:
    df = pd.DataFrame(
        {"query_id": [1, 1, 2], "candidate_id": ["a", "b", "a"], "grade": [2, 0.0, 3]}
    )

    assert qrels_from_frame(df) == {"1": {"a": 2, "b": 0}, "2": {"a": 3}}


@pytest.mark.parametrize(
    ("frame", "needle"),
    [
        (pd.DataFrame({"query_id": ["q"], "candidate_id": ["a"]}), "missing columns"),
        (pd.DataFrame({"query_id": ["q"], "candidate_id": ["a"], "grade": [1.5]}), "integer"),
        (pd.DataFrame({"query_id": ["q"], "candidate_id": ["a"], "grade": [None]}), "integer"),
        (
            pd.DataFrame({"query_id": ["q", "q"], "candidate_id": ["a", "a"], "grade": [1, 2]}),
            "judged twice",
        ),
    ],
)
def test_qrels_from_frame_errors(frame: pd.DataFrame, needle: str) -> None:
    with pytest.raises(DataError, match=needle):
        qrels_from_frame(frame)


def test_read_queries_keeps_extra_columns_and_string_ids(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "queries.tsv",
        'query_id\tquery\tsplit\n001\tSenior "data" engineer, Berlin\ttrain\n\n2\tNurse\ttest\n',
    )

    df = read_queries(path)

    assert list(df.columns) == ["query_id", "query", "split"]
    assert df["query_id"].tolist() == ["001", "2"]
    assert df.loc[0, "query"] == 'Senior "data" engineer, Berlin'
    assert df["split"].tolist() == ["train", "test"]


def test_read_queries_handles_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "q.tsv"
    path.write_bytes("\ufeffquery_id\tquery\r\nq1\tAccountant\r\n".encode())

    df = read_queries(path)

    assert df.to_dict("list") == {"query_id": ["q1"], "query": ["Accountant"]}


@pytest.mark.parametrize(
    ("content", "needle", "row"),
    [
        ("", "empty", None),
        ("query_id\tquery\n", "no queries", None),
        ("id\tquery\nq1\tNurse\n", "missing columns \\['query_id'\\]", 1),
        ("query_id\ttext\nq1\tNurse\n", "missing columns \\['query'\\]", 1),
        ("query_id\tquery\nq1\tNurse\nq2\t  \n", "query text is empty", 3),
        ("query_id\tquery\nq1\tNurse\nq1\tDoctor\n", "duplicate query id 'q1'", 3),
        ("query_id\tquery\nq1\tNurse\textra\n", "expected 2 tab-separated", 2),
    ],
)
def test_read_queries_errors(tmp_path: Path, content: str, needle: str, row: int | None) -> None:
    path = _write(tmp_path / "queries.tsv", content)

    with pytest.raises(DataError, match=needle) as excinfo:
        read_queries(path)

    assert excinfo.value.row == row
    assert str(path) in str(excinfo.value)
