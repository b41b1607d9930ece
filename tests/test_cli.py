from __future__ import annotations

import csv
import re

import pytest
from click.testing import CliRunner

from shortlister.cli import main
from shortlister.evaluation.trec import read_run

ROWS = [
    ("1", "Aspiring HR Professional", "Houston, Texas", "80"),
    ("2", "Native English Teacher at EPIK", "Kanada", "40"),
    ("3", "Sr. HR Mgr. at Acme", "Raleigh-Durham, North Carolina Area", ""),
    ("4", "Software Engineer | Python", "Berlin, Germany", "55"),
    ("5", "Seeking Human Resources opportunities", "Austin, Texas", "70"),
    ("6", "Registered Nurse", "Chicago, Illinois", "65"),
    ("7", "N/A", "Chicago, Illinois", "10"),
]


@pytest.fixture()
def pool(tmp_path):
    path = tmp_path / "cands.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "title", "location", "screening_score"])
        writer.writerows(ROWS)
    return path


def _run(args, cwd):
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=cwd):
        result = runner.invoke(main, args, catch_exceptions=False)
    return result


ROW = re.compile(r"^\s*\d+\s+(?:\*\s+)?(\S+)\s+.*\s-?\d+\.\d{4}$")


def _ids(output):
    """Candidate ids of the printed table, in rank order."""
    return [m.group(1) for m in map(ROW.match, output.splitlines()) if m]


@pytest.mark.parametrize("method", ["tfidf", "sbert"])
def test_rank_one_query(pool, tmp_path, method):
    result = _run(
        [
            "rank",
            "--candidates",
            str(pool),
            "--query",
            "aspiring human resources",
            "--method",
            method,
            "--top-k",
            "3",
        ],
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    ids = _ids(result.output)
    assert len(ids) == 3 and ids[0] in {"1", "5"}
    assert "rank" in result.output and "score" in result.output
    assert "1 row(s) rejected" in result.output  # the N/A title


def test_rejects_are_written_not_lost(pool, tmp_path):
    rejects = tmp_path / "rej.csv"
    result = _run(
        [
            "rank",
            "--candidates",
            str(pool),
            "--query",
            "nurse",
            "--method",
            "tfidf",
            "--rejects",
            str(rejects),
        ],
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    text = rejects.read_text()
    assert "N/A" in text and "reason" in text.splitlines()[0]


def test_rejects_never_overwrite_the_input(pool, tmp_path):
    before = pool.read_text()
    result = _run(
        [
            "rank",
            "--candidates",
            str(pool),
            "--query",
            "nurse",
            "--method",
            "tfidf",
            "--rejects",
            str(pool),
        ],
        tmp_path,
    )
    assert result.exit_code == 1 and "inputs are never overwritten" in result.output
    assert pool.read_text() == before


def test_star_pins_and_reranks(pool, tmp_path):
    plain = _ids(
        _run(
            [
                "rank",
                "--candidates",
                str(pool),
                "--query",
                "human resources",
                "--method",
                "tfidf",
                "--top-k",
                "6",
            ],
            tmp_path,
        ).output
    )
    starred = _run(
        [
            "rank",
            "--candidates",
            str(pool),
            "--query",
            "human resources",
            "--method",
            "tfidf",
            "--top-k",
            "6",
            "--star",
            "4",
        ],
        tmp_path,
    )
    assert starred.exit_code == 0, starred.output
    ids = _ids(starred.output)
    assert ids[0] == "4" and "* 4" in starred.output
    assert ids != plain


def test_star_errors_are_clear(pool, tmp_path):
    result = _run(
        ["rank", "--candidates", str(pool), "--query", "x", "--method", "tfidf", "--star", "99"],
        tmp_path,
    )
    assert result.exit_code == 1 and "unknown candidate id(s) starred: 99" in result.output


def test_batch_mode_writes_a_trec_run(pool, tmp_path):
    queries = tmp_path / "q.tsv"
    queries.write_text("query_id\tquery\nq1\thuman resources\nq2\tnurse\n")
    out = tmp_path / "run.tsv"
    result = _run(
        [
            "rank",
            "--candidates",
            str(pool),
            "--queries",
            str(queries),
            "--method",
            "tfidf",
            "--top-k",
            "4",
            "--out",
            str(out),
        ],
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    run = read_run(out)
    assert set(run) == {"q1", "q2"} and all(len(v) == 4 for v in run.values())
    first = out.read_text().splitlines()[0].split()
    assert first[1] == "Q0" and first[3] == "1" and first[5] == "tfidf"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--query", "x", "--queries", "q.tsv"], "not both"),
        ([], "give --query"),
        (["--queries", "q.tsv"], "needs --out"),
        (["--query", "x", "--method", "word2vecc"], "unknown method 'word2vecc'"),
    ],
)
def test_usage_errors(pool, tmp_path, args, message):
    result = _run(["rank", "--candidates", str(pool), *args], tmp_path)
    assert result.exit_code != 0 and message in result.output


def test_bad_file_error_names_the_file(tmp_path):
    bad = tmp_path / "semi.csv"
    bad.write_text("id;title;location\n1;HR;Paris\n")
    result = _run(["rank", "--candidates", str(bad), "--query", "x", "--method", "tfidf"], tmp_path)
    assert result.exit_code == 1 and "semi.csv" in result.output
