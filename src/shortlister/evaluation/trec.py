"""TREC-style run files, qrels and query files.

The formats are the ones ``trec_eval`` reads, so any ranking written here can be
checked with standard tools:

* run:   ``query_id Q0 candidate_id rank score tag``
* qrels: ``query_id 0 candidate_id grade``
* queries: a TSV whose header holds ``query_id`` and ``query`` (extra columns kept)

Ids may not contain whitespace because run and qrels lines are whitespace-separated.
Errors name the file and the 1-based line (reported as ``row``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from shortlister.core.errors import DataError
from shortlister.core.ids import id_problem
from shortlister.core.outputs import write_text

logger = logging.getLogger(__name__)

Run = dict[str, list[tuple[str, float]]]
"""query_id -> candidates in rank order, each with its score."""

Qrels = dict[str, dict[str, int]]
"""query_id -> candidate_id -> relevance grade."""

QUERY_COLUMNS = ("query_id", "query")


def write_run(path: str | Path, run: Run, tag: str) -> None:
    """Write ``run`` as a TREC run file, queries sorted, ranks 1-based in list order."""
    path = Path(path)
    _check_token(tag, path, "tag")
    lines = []
    for query_id in sorted(run):
        _check_token(query_id, path, "query_id")
        for rank, (candidate_id, score) in enumerate(run[query_id], start=1):
            _check_token(candidate_id, path, "candidate_id")
            lines.append(f"{query_id} Q0 {candidate_id} {rank} {float(score):.6f} {tag}\n")
    _write_lines(path, lines)
    logger.debug("Wrote %d run lines for %d queries to %s", len(lines), len(run), path)


def read_run(path: str | Path) -> Run:
    """Read a TREC run file; ranks must strictly increase within each query."""
    path = Path(path)
    run: Run = {}
    last_rank: dict[str, int] = {}
    seen: dict[str, set[str]] = {}
    for lineno, fields in _split_lines(path):
        if len(fields) != 6:
            raise DataError(
                f"expected 6 whitespace-separated fields "
                f"'query_id Q0 candidate_id rank score tag', got {len(fields)}: {fields}",
                path=path,
                row=lineno,
            )
        query_id, _, candidate_id, rank_text, score_text, _ = fields
        rank = _parse_int(rank_text, path, lineno, "rank")
        score = _parse_float(score_text, path, lineno, "score")
        if query_id in last_rank and rank <= last_rank[query_id]:
            raise DataError(
                f"ranks must increase within query '{query_id}': "
                f"rank {rank} follows rank {last_rank[query_id]}",
                path=path,
                row=lineno,
                field="rank",
            )
        if candidate_id in seen.setdefault(query_id, set()):
            raise DataError(
                f"candidate '{candidate_id}' appears twice for query '{query_id}'",
                path=path,
                row=lineno,
                field="candidate_id",
            )
        last_rank[query_id] = rank
        seen[query_id].add(candidate_id)
        run.setdefault(query_id, []).append((candidate_id, score))
    return run


def write_qrels(path: str | Path, qrels: Qrels) -> None:
    """Write ``qrels`` as ``query_id 0 candidate_id grade`` lines, sorted by query and id."""
    path = Path(path)
    lines = []
    for query_id in sorted(qrels):
        _check_token(query_id, path, "query_id")
        for candidate_id in sorted(qrels[query_id]):
            _check_token(candidate_id, path, "candidate_id")
            lines.append(f"{query_id} 0 {candidate_id} {int(qrels[query_id][candidate_id])}\n")
    _write_lines(path, lines)
    logger.debug("Wrote %d judgments for %d queries to %s", len(lines), len(qrels), path)


def read_qrels(path: str | Path) -> Qrels:
    """Read a TREC qrels file; each (query, candidate) pair may be judged once."""
    path = Path(path)
    qrels: Qrels = {}
    for lineno, fields in _split_lines(path):
        if len(fields) != 4:
            raise DataError(
                f"expected 4 whitespace-separated fields "
                f"'query_id 0 candidate_id grade', got {len(fields)}: {fields}",
                path=path,
                row=lineno,
            )
        query_id, _, candidate_id, grade_text = fields
        grade = _parse_int(grade_text, path, lineno, "grade")
        judged = qrels.setdefault(query_id, {})
        if candidate_id in judged:
            raise DataError(
                f"candidate '{candidate_id}' is judged twice for query '{query_id}'",
                path=path,
                row=lineno,
                field="candidate_id",
            )
        judged[candidate_id] = grade
    return qrels


def qrels_from_frame(df: pd.DataFrame) -> Qrels:
    """Build qrels from a frame with columns ``query_id``, ``candidate_id``, ``grade``.

    Ids are converted to ``str``; errors report the 0-based position as ``row``.
    """
    missing = [c for c in ("query_id", "candidate_id", "grade") if c not in df.columns]
    if missing:
        raise DataError(
            f"qrels frame is missing columns {missing}; has {list(df.columns)}",
            field=missing[0],
        )
    qrels: Qrels = {}
    for row, (query_id, candidate_id, grade) in enumerate(
        zip(df["query_id"], df["candidate_id"], df["grade"], strict=True)
    ):
        judged = qrels.setdefault(str(query_id), {})
        if str(candidate_id) in judged:
            raise DataError(
                f"candidate '{candidate_id}' is judged twice for query '{query_id}'",
                row=row,
                field="candidate_id",
            )
        judged[str(candidate_id)] = _frame_grade(grade, row)
    return qrels


def _frame_grade(value: object, row: int) -> int:
    try:
        grade = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        grade = math.nan
    if not grade.is_integer():
        raise DataError(f"expected an integer grade, got {value!r}", row=row, field="grade")
    return int(grade)


def read_queries(path: str | Path) -> pd.DataFrame:
    """Read a TSV of queries: header with ``query_id`` and ``query``, one query per line.

    Extra columns (such as ``split``) are kept. All values are strings; the text is
    read verbatim (no quoting), so queries may contain quotes.
    """
    path = Path(path)
    lines = _read_text(path).splitlines()
    if not lines or not lines[0].strip():
        raise DataError("file is empty; expected a header 'query_id<TAB>query'", path=path)
    header = lines[0].split("\t")
    missing = [c for c in QUERY_COLUMNS if c not in header]
    if missing:
        raise DataError(
            f"header is missing columns {missing}; expected 'query_id<TAB>query', got {header}",
            path=path,
            row=1,
            field=missing[0],
        )
    records = _query_records(path, header, lines[1:])
    if not records:
        raise DataError("file has a header but no queries", path=path)
    return pd.DataFrame(records, columns=header, dtype=str)


def _query_records(path: Path, header: list[str], lines: Iterable[str]) -> list[list[str]]:
    records = []
    first_seen: dict[str, int] = {}
    qid_col, text_col = header.index("query_id"), header.index("query")
    for lineno, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        values = line.split("\t")
        if len(values) != len(header):
            raise DataError(
                f"expected {len(header)} tab-separated values {header}, got {len(values)}",
                path=path,
                row=lineno,
            )
        query_id = values[qid_col].strip()
        if not query_id:
            raise DataError("query id is empty", path=path, row=lineno, field="query_id")
        bad = id_problem(query_id)
        if bad:
            raise DataError(
                f"query id {query_id!r} {bad}; expected an id without whitespace or control "
                "characters (run files are whitespace-separated)",
                path=path,
                row=lineno,
                field="query_id",
            )
        if not values[text_col].strip():
            raise DataError(
                f"query text is empty for query '{query_id}'",
                path=path,
                row=lineno,
                field="query",
            )
        if query_id in first_seen:
            raise DataError(
                f"duplicate query id '{query_id}' (first on line {first_seen[query_id]})",
                path=path,
                row=lineno,
                field="query_id",
            )
        first_seen[query_id] = lineno
        values[qid_col] = query_id
        records.append(values)
    return records


def _read_text(path: Path) -> str:
    try:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError("file does not exist", path=path) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"file is not valid UTF-8 ({exc.reason})", path=path) from None


def _split_lines(path: Path) -> Iterable[tuple[int, list[str]]]:
    for lineno, line in enumerate(_read_text(path).splitlines(), start=1):
        fields = line.split()
        if fields:
            yield lineno, fields


def _write_lines(path: Path, lines: list[str]) -> None:
    write_text(path, "".join(lines))


def _check_token(value: str, path: Path, field: str) -> None:
    # A space inside an id would silently shift every later column on read-back. Inputs
    # are checked where they are read (loader, read_queries); this is the last guard.
    bad = id_problem(value)
    if bad:
        raise DataError(
            f"{field} {value!r} {bad}; expected it non-empty without whitespace",
            path=path,
            field=field,
        )


def _parse_int(text: str, path: Path, lineno: int, field: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataError(
            f"expected an integer {field}, got {text!r}", path=path, row=lineno, field=field
        ) from None


def _parse_float(text: str, path: Path, lineno: int, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isnan(value):
        raise DataError(
            f"expected a number for {field}, got {text!r}", path=path, row=lineno, field=field
        )
    return value
