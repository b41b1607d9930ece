"""Load a candidate file (CSV/TSV or Parquet) into the string contract of `schema`.

CSV is parsed with Python's `csv` module rather than pandas so that quoted fields may hold
newlines (real exports do) and every error can name the physical line as well as the row.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from shortlister.core.errors import ConfigError, DataError
from shortlister.core.ids import id_problem
from shortlister.data import schema

logger = logging.getLogger(__name__)

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class _Record:
    """One data row as strings, with where it came from."""

    row: int  # 1-based data row number
    values: list[str]
    first_line: int | None = None  # physical lines in the file (CSV only)
    last_line: int | None = None

    def where(self) -> str:
        if self.first_line is None:
            return ""
        if self.first_line == self.last_line:
            return f" (line {self.first_line})"
        return f" (lines {self.first_line}-{self.last_line})"


@dataclass(frozen=True)
class _Layout:
    """Which header position feeds which contract column."""

    id: int
    title: int
    location: int
    score: int | None
    extras: list[tuple[str, int]]


def load_candidates(path: str | Path, *, delimiter: str | None = None) -> pd.DataFrame:
    """Read candidates from `path` and validate them against the data contract.

    Returns columns ``id, title, location, screening_score`` (float64, NaN when blank or
    absent), then extra columns in file order (strings, untouched), then ``source_row``
    (and ``screening_score_text``, the score as written, when the file has scores).
    Titles are returned raw; `clean.clean_candidates` normalises them.

    `delimiter` overrides the one implied by the extension (``.csv`` -> ``,``,
    ``.tsv``/``.txt`` -> tab). Raises `DataError` naming file, row and field on bad input.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in schema.SUPPORTED_EXTENSIONS:
        raise DataError(
            f"unsupported file extension {suffix or '(none)'!r}; "
            f"expected one of {', '.join(schema.SUPPORTED_EXTENSIONS)}",
            path=path,
        )
    data = _read_bytes(path)
    if suffix in schema.PARQUET_EXTENSIONS:
        if delimiter is not None:
            logger.warning("delimiter=%r ignored for Parquet file %s", delimiter, path)
        header, records = _parquet_records(path, data)
    else:
        sep = schema.CSV_DELIMITERS[suffix] if delimiter is None else delimiter
        if len(sep) != 1:
            raise ConfigError(f"delimiter must be a single character, got {sep!r}")
        header, records = _csv_records(path, _decode(path, data), sep)
    if not records:
        raise DataError("no data rows (the file has column names but no candidates)", path=path)
    frame = _build_frame(path, _resolve_layout(path, header), records)
    logger.info("loaded %d candidates from %s", len(frame), path)
    return frame


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise DataError("file not found", path=path)
    if path.is_dir():
        raise DataError("is a directory, expected a candidate file", path=path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror or exc}", path=path) from exc
    if not data:
        raise DataError(
            "file is empty (0 bytes); expected a header row and at least one data row",
            path=path,
        )
    return data


def _decode(path: Path, data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), naming the first bad byte otherwise."""
    bom = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        return data[bom:].decode(schema.ENCODING)
    except UnicodeDecodeError as exc:
        offset = exc.start + bom
        line = data.count(b"\n", 0, offset) + 1
        bad = data[offset : offset + 4]
        hint = (
            "the file looks UTF-16 encoded"
            if data.startswith(_UTF16_BOMS)
            else "it may be Latin-1/Windows-125x; re-save it as UTF-8"
        )
        raise DataError(
            f"not valid UTF-8 at byte offset {offset} (line {line}, bytes {bad!r}); "
            f"expected UTF-8 text ({hint})",
            path=path,
        ) from exc


def _csv_records(path: Path, text: str, sep: str) -> tuple[list[str], list[_Record]]:
    """Split text into a header and data records, checking each row's field count."""
    rows = _csv_rows(path, text, sep)
    header: list[str] | None = None
    records: list[_Record] = []
    blank_lines: list[int] = []
    for first, last, fields in rows:
        if not any(f.strip() for f in fields):
            # Spreadsheet exports often end in empty ",,,," lines; they are not candidates.
            blank_lines.append(first)
            continue
        if header is None:
            _check_delimiter(path, fields, sep)
            header = fields
            continue
        rec = _Record(len(records) + 1, fields, first, last)
        if len(fields) != len(header):
            raise DataError(
                f"has {len(fields)} fields but the header has {len(header)}{rec.where()}; "
                f"expected every row to have {len(header)} {sep!r}-separated fields "
                "(check for an unquoted delimiter or a missing quote)",
                path=path,
                row=rec.row,
            )
        records.append(rec)
    if header is None:
        raise DataError("file has no header row; expected column names", path=path)
    if blank_lines:
        logger.warning("%s: skipped %d blank line(s): %s", path, len(blank_lines), blank_lines)
    return header, records


def _csv_rows(path: Path, text: str, sep: str) -> Iterator[tuple[int, int, list[str]]]:
    """Yield (first line, last line, fields) for each CSV record."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    last_line = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(
                f"cannot parse CSV at line {reader.line_num}: {exc}; "
                "expected properly quoted fields (is a '\"' quote left open?)",
                path=path,
            ) from exc
        yield last_line + 1, reader.line_num, fields
        last_line = reader.line_num


def _check_delimiter(path: Path, header: list[str], sep: str) -> None:
    """A header that parses into one column usually means the wrong delimiter."""
    if len(header) != 1:
        return
    counts = {d: header[0].count(d) for d in schema.SUSPECT_DELIMITERS if d != sep}
    found = max(counts, key=lambda d: counts[d])
    if counts[found] == 0:
        return
    raise DataError(
        f"header {header[0]!r} parses as a single column; looks like {found!r}-separated, "
        f"expected {sep!r}. Re-export with {sep!r} or pass delimiter={found!r}",
        path=path,
    )


def _parquet_records(path: Path, data: bytes) -> tuple[list[str], list[_Record]]:
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read as Parquet: {exc}", path=path) from exc
    if any(name is not None for name in frame.index.names):
        # A frame written after set_index("id") stores the id as a named index.
        frame = frame.reset_index()
    header = [str(c) for c in frame.columns]
    is_id = [h.strip().lower() == schema.ID for h in header]
    records = [
        _Record(
            i + 1, [_cell_to_str(v, integral=flag) for v, flag in zip(vals, is_id, strict=True)]
        )
        for i, vals in enumerate(frame.itertuples(index=False, name=None))
    ]
    return header, records


def _cell_to_str(value: object, *, integral: bool = False) -> str:
    """Turn a Parquet cell into the CSV-like string the contract expects."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        # Ids stored as float (pandas does this when one is missing) must read "7", not "7.0".
        if integral and float(value).is_integer():
            return str(int(value))
    if isinstance(value, bytes):
        return value.decode(schema.ENCODING, errors="replace")
    return str(value)


def _resolve_layout(path: Path, header: Sequence[str]) -> _Layout:
    """Map normalised header names onto contract columns, or say what is wrong."""
    names = [h.strip().lower() for h in header]
    _check_names(path, header, names)
    title_names = [n for n in (schema.TITLE, *schema.TITLE_ALIASES) if n in names]
    if len(title_names) > 1:
        raise DataError(
            f"has both {' and '.join(repr(n) for n in title_names)} columns; "
            "expected exactly one title column",
            path=path,
            field=title_names[0],
        )
    missing = [n for n in (schema.ID, schema.LOCATION) if n not in names]
    if not title_names:
        missing.insert(1, f"{schema.TITLE} (or {', '.join(schema.TITLE_ALIASES)})")
    if missing:
        raise DataError(
            f"missing required column(s): {', '.join(missing)}; found columns: "
            f"{', '.join(names)}; expected {', '.join(schema.REQUIRED_COLUMNS)}",
            path=path,
        )
    used = {schema.ID, title_names[0], schema.LOCATION, schema.SCREENING_SCORE}
    return _Layout(
        id=names.index(schema.ID),
        title=names.index(title_names[0]),
        location=names.index(schema.LOCATION),
        score=names.index(schema.SCREENING_SCORE) if schema.SCREENING_SCORE in names else None,
        extras=[(n, i) for i, n in enumerate(names) if n not in used],
    )


def _check_names(path: Path, header: Sequence[str], names: list[str]) -> None:
    for i, name in enumerate(names):
        if not name:
            raise DataError(
                f"header column {i + 1} has no name; expected every column to be named",
                path=path,
            )
        if name in schema.RESERVED_COLUMNS:
            raise DataError(
                "column name is reserved for the pipeline's own use; rename it",
                path=path,
                field=name,
            )
        if names.index(name) != i:
            raise DataError(
                f"column name appears twice (header columns {names.index(name) + 1} and "
                f"{i + 1}: {header[names.index(name)]!r}, {header[i]!r}); expected unique names",
                path=path,
                field=name,
            )


def _build_frame(path: Path, layout: _Layout, records: list[_Record]) -> pd.DataFrame:
    ids = _validate_ids(path, layout, records)
    scores = [_parse_score(path, layout, rec) for rec in records]
    columns: dict[str, object] = {
        schema.ID: ids,
        schema.TITLE: [rec.values[layout.title] for rec in records],
        schema.LOCATION: [rec.values[layout.location].strip() for rec in records],
        schema.SCREENING_SCORE: np.array(scores, dtype="float64"),
    }
    for name, i in layout.extras:
        columns[name] = [rec.values[i] for rec in records]
    columns[schema.SOURCE_ROW] = np.array([rec.row for rec in records], dtype="int64")
    if layout.score is not None:
        columns[schema.SCORE_TEXT] = [rec.values[layout.score] for rec in records]
    return pd.DataFrame(columns)


def _validate_ids(path: Path, layout: _Layout, records: list[_Record]) -> list[str]:
    seen: dict[str, _Record] = {}
    ids: list[str] = []
    for rec in records:
        value = rec.values[layout.id].strip()
        if not value:
            raise DataError(
                f"id is empty{rec.where()}; expected a unique, non-empty id",
                path=path,
                row=rec.row,
                field=schema.ID,
            )
        bad = id_problem(value)
        if bad:
            raise DataError(
                f"id {value!r} {bad}{rec.where()}; expected an id without whitespace or "
                "control characters (run files and qrels are whitespace-separated)",
                path=path,
                row=rec.row,
                field=schema.ID,
            )
        if value in seen:
            first = seen[value]
            raise DataError(
                f"duplicate id {value!r}: first in row {first.row}{first.where()}, again in "
                f"row {rec.row}{rec.where()}; expected each id once",
                path=path,
                row=rec.row,
                field=schema.ID,
            )
        seen[value] = rec
        ids.append(value)
    return ids


def _parse_score(path: Path, layout: _Layout, rec: _Record) -> float:
    if layout.score is None:
        return math.nan
    raw = rec.values[layout.score].strip()
    if not raw:
        return math.nan
    try:
        value = float(raw)
    except ValueError:
        value = math.nan  # reported below together with out-of-range values
    if not (math.isfinite(value) and schema.SCORE_MIN <= value <= schema.SCORE_MAX):
        raise DataError(
            f"{raw!r} is not a valid score{rec.where()}; expected a number from "
            f"{schema.SCORE_MIN:g} to {schema.SCORE_MAX:g}, or blank",
            path=path,
            row=rec.row,
            field=schema.SCREENING_SCORE,
        )
    return value
