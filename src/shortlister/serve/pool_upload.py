"""A candidate file uploaded from the page: spooled to a temporary folder, validated by the
CLI's own functions (data.loader.load_candidates, data.clean.clean_candidates), its
rejected rows kept for download as the CLI's spreadsheet-safe rejects file.

The served input files are never touched: an upload lives in its own temporary folder
until it is read, then only in memory.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import unicodedata
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from shortlister.core.errors import DataError
from shortlister.core.outputs import people_csv
from shortlister.data import schema
from shortlister.data.clean import CleanConfig, CleanResult, clean_candidates
from shortlister.data.loader import load_candidates

UPLOAD_CHUNK = 1 << 20
PARQUET_MAGIC = b"PAR1"
MAX_NAME_CHARS = 120
_FIELD = re.compile(r"field '([^']+)'")


class UploadError(Exception):
    """An upload the client can fix: answered with `status` and {error, detail}."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def display_name(filename: str | None) -> str:
    """The upload's file name as messages show it: no folders, no control characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return name[:MAX_NAME_CHARS] or "upload"


def file_suffix(name: str, head: bytes) -> str:
    """The loader's extension for this upload: its own, or from its content when it has
    none (Parquet's magic bytes; else tab- or comma-separated text by the first line)."""
    suffix = Path(name).suffix.lower()
    if suffix in schema.SUPPORTED_EXTENSIONS:
        if suffix in schema.PARQUET_EXTENSIONS and not head.startswith(PARQUET_MAGIC):
            raise UploadError(
                422,
                "invalid_file",
                f"{name}: not a Parquet file (it does not start with {PARQUET_MAGIC!r}); "
                "expected a Parquet file, or a .csv/.tsv text file",
            )
        return suffix
    if suffix and not re.fullmatch(r"\.[0-9]+", suffix):  # "export.2024" has no extension
        raise UploadError(
            422,
            "unsupported_file_type",
            f"{name}: unsupported file extension {suffix!r}; expected one of "
            f"{', '.join(schema.SUPPORTED_EXTENSIONS)}",
        )
    if head.startswith(PARQUET_MAGIC):
        return ".parquet"
    first_line = head.split(b"\n", 1)[0]
    return ".tsv" if b"\t" in first_line else ".csv"


@dataclass
class Upload:
    """What one upload's validation decided: the accepted rows and the rejected ones."""

    name: str
    clean: pd.DataFrame  # accepted, cleaned as the CLI cleans them
    rejects: pd.DataFrame  # as the CLI's rejects file: the rows as written, plus `reason`
    n_rows: int
    n_warnings: int  # rows whose fields lost control characters

    def reject_records(self, limit: int | None = None) -> list[dict[str, Any]]:
        """[{row, id, field, reason}], in file order."""
        frame = self.rejects if limit is None else self.rejects.head(limit)
        rows = frame.get(schema.SOURCE_ROW, pd.Series(range(1, len(frame) + 1)))
        return [
            {
                "row": None if pd.isna(row) else int(row),
                "id": "" if pd.isna(cid) else str(cid),
                "field": _field(str(reason)),
                "reason": str(reason),
            }
            for row, cid, reason in zip(
                rows.tolist(), frame[schema.ID].tolist(), frame[schema.REASON].tolist(), strict=True
            )
        ]


def _field(reason: str) -> str:
    found = _FIELD.search(reason)
    return found.group(1) if found else schema.TITLE


def read_upload(path: Path, name: str) -> pd.DataFrame:
    """The CLI's loader over the spooled file; errors name the upload, not the temp path."""
    try:
        return load_candidates(path)
    except DataError as exc:
        message = str(exc).replace(str(path), name)
        raise UploadError(422, "invalid_file", message) from exc


def validate(
    frame: pd.DataFrame, name: str, clean_cfg: CleanConfig, served_ids: Any = ()
) -> Upload:
    """Clean as the CLI does; rows whose id is already served (`served_ids`: a join) are
    rejected with a reason naming the id, never merged over the served candidate."""
    ids = frame[schema.ID].astype(str)
    taken = ids.isin(served_ids) if len(served_ids) else pd.Series(False, index=frame.index)
    result: CleanResult = clean_candidates(frame[~taken].reset_index(drop=True), clean_cfg)
    collided = _as_written(frame[taken]).reset_index(drop=True)
    collided[schema.REASON] = [
        f"id_taken: row {row}, field '{schema.ID}': id {cid!r} is already in the served pool; "
        "expected an id not served yet (join), or replace the pool"
        for row, cid in zip(collided[schema.SOURCE_ROW], collided[schema.ID], strict=True)
    ]
    parts = [p for p in (result.rejects, collided) if len(p)]
    rejects = pd.concat(parts, ignore_index=True) if parts else result.rejects
    if schema.SOURCE_ROW in rejects.columns and len(rejects):
        rejects = rejects.sort_values(schema.SOURCE_ROW, kind="stable").reset_index(drop=True)
    n_warned = int(result.counts.get("n_rows_with_control_chars", 0))
    return Upload(name, result.clean, rejects, len(frame), n_warned)


def _as_written(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows as the file wrote them (the score's own text), as data.clean echoes rejects."""
    rows = rows.copy()
    if schema.SCORE_TEXT in rows.columns:
        rows[schema.SCREENING_SCORE] = rows.pop(schema.SCORE_TEXT).astype("object")
    return rows


class SpooledUpload:
    """A temporary folder holding one uploaded file under its own extension."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.folder = Path(tempfile.mkdtemp(prefix="shortlister-upload-"))
        self.path: Path | None = None

    def open(self, suffix: str) -> Any:
        self.path = self.folder / f"upload{suffix}"
        return self.path.open("xb")

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class RejectStore:
    """The recent uploads' rejects files (spreadsheet-safe CSV text), by upload id."""

    def __init__(self, max_uploads: int = 8) -> None:
        self.max_uploads = max_uploads
        self._files: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, upload: Upload) -> str:
        upload_id = uuid.uuid4().hex
        text = people_csv(upload.rejects)
        with self._lock:
            self._files[upload_id] = (upload.name, text)
            while len(self._files) > self.max_uploads:
                self._files.popitem(last=False)
        return upload_id

    def get(self, upload_id: str) -> tuple[str, str] | None:
        """(file name, CSV text), or None when unknown or no longer kept."""
        with self._lock:
            return self._files.get(upload_id)
