"""Exceptions a user can cause; each names the file, row and field at fault."""

from __future__ import annotations

from pathlib import Path


class ShortlisterError(Exception):
    """Base class for errors caused by user input or configuration."""


class DataError(ShortlisterError, ValueError):
    """Bad input data.

    The message always says where (file, row, field) and what was expected, so a
    recruiter can fix the export without reading a traceback.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.row = row
        self.field = field
        where = []
        if self.path is not None:
            where.append(self.path)
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ConfigError(ShortlisterError, ValueError):
    """An invalid configuration value."""
