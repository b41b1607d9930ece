"""Writing outputs safely: never over an input, atomically, and spreadsheet-safe CSV.

Every file the CLI, the service or a stage writes goes through `atomic_write`: the bytes
go to a temporary file in the target's folder, which then replaces the target in one
rename, so a failure mid-write (a full disk, an interrupt) leaves the previous file or
none, never a truncated one. `guard_outputs` runs before any work and refuses an output
that *is* one of the inputs (same device and inode, so hard and symbolic links count).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import logging
import os
import re
import stat
import tempfile
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import pandas as pd

from shortlister.core.errors import ShortlisterError

logger = logging.getLogger(__name__)

# OWASP "CSV injection": a cell starting with one of these is run as a formula by
# spreadsheet programs. Such cells are written with a leading apostrophe.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

_HINTS = {
    errno.ENOSPC: "free some disk space or write to another disk",
    errno.EDQUOT: "free some disk space or write to another disk",
    errno.EACCES: "choose a folder you can write to",
    errno.EPERM: "choose a folder you can write to",
    errno.EROFS: "the file system is read-only; choose another folder",
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
    errno.EISDIR: "give a file name, not a folder",
    errno.ENAMETOOLONG: "use a shorter file name",
}


class OutputError(ShortlisterError, OSError):
    """An output that cannot or must not be written; says which, why and what to do."""

    def __init__(self, path: str | Path, cause: str, hint: str, *, label: str = "") -> None:
        self.path = str(path)
        what = f"{label} {path}" if label else str(path)
        super().__init__(f"cannot write {what}: {cause}; {hint}")


def output_error(path: str | Path, exc: OSError, *, label: str = "") -> OutputError:
    """An OutputError for an OSError raised while writing `path`."""
    cause = exc.strerror or str(exc)
    hint = _HINTS.get(exc.errno or 0, "check the path and the disk")
    return OutputError(path, cause, hint, label=label)


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when both name one existing file (same device and inode), whatever the links."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def guard_outputs(
    outputs: Mapping[str, str | Path | None],
    inputs: Mapping[str, str | Path | None],
    *,
    deferred: Collection[str] = (),
) -> None:
    """Refuse, before any work, outputs that would overwrite an input or each other.

    `outputs` and `inputs` map a label ("--out", "the candidate file") to a path (None:
    not used). Also refuses an output that is a folder or whose folder cannot be written,
    except for the `deferred` labels (outputs written only if needed, e.g. a default
    rejects file): those are checked for identity only, and fail when written.
    """
    given_outputs = {k: Path(v) for k, v in outputs.items() if v is not None}
    given_inputs = {k: Path(v) for k, v in inputs.items() if v is not None}
    for label, out in given_outputs.items():
        for in_label, source in given_inputs.items():
            if same_file(out, source) or _same_path(out, source):
                raise OutputError(
                    out,
                    f"it is {in_label} ({source})",
                    "inputs are never overwritten; choose another output path",
                    label=label,
                )
        if out.is_dir():
            raise OutputError(out, "it is a folder", "give a file name", label=label)
        if label not in deferred:
            _check_folder(out, label)
    labels = list(given_outputs)
    for i, first in enumerate(labels):
        for second in labels[i + 1 :]:
            a, b = given_outputs[first], given_outputs[second]
            if same_file(a, b) or _same_path(a, b):
                raise OutputError(
                    b, f"{first} is the same file", "give each output its own path", label=second
                )


def _same_path(a: Path, b: Path) -> bool:
    # For outputs that do not exist yet: no inode to compare, but the same resolved path.
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return False


def _check_folder(path: Path, label: str) -> None:
    """The nearest existing folder above `path` must be a folder we can create files in."""
    folder = path.parent
    while not folder.exists():
        if folder == folder.parent:
            break
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(path, f"{folder} is a file, not a folder", "check the path", label=label)
    if path.exists() and not path.is_file():
        return  # a device or pipe (/dev/stdout): written in place, errors reported then
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".shortlister-probe-")
    except OSError as exc:
        raise output_error(path, exc, label=label) from None
    os.close(fd)
    os.unlink(probe)


@contextlib.contextmanager
def atomic_write(
    path: str | Path, mode: str = "w", *, label: str = "", **open_kwargs: Any
) -> Iterator[IO[Any]]:
    """Open `path` for writing through a temporary file renamed over it on success.

    Folders are created as needed. A device or pipe (e.g. /dev/stdout) is written in
    place. Any OSError becomes an OutputError naming the path, the cause and a hint; the
    temporary file is removed and the previous file, if any, is left as it was.
    """
    path = Path(path)
    if "b" not in mode:
        open_kwargs.setdefault("encoding", "utf-8")
    try:
        if path.exists() and not path.is_file():
            with open(path, mode, **open_kwargs) as handle:
                yield handle
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise output_error(path, exc, label=label) from None
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise output_error(path, exc, label=label) from None
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _mode_for(path: Path) -> int:
    """An existing file keeps its permissions; a new one gets the umask's default."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def write_text(path: str | Path, text: str, *, label: str = "") -> Path:
    with atomic_write(path, "w", label=label, newline="") as handle:
        handle.write(text)
    return Path(path)


def write_bytes(path: str | Path, data: bytes, *, label: str = "") -> Path:
    with atomic_write(path, "wb", label=label) as handle:
        handle.write(data)
    return Path(path)


def write_parquet(frame: pd.DataFrame, path: str | Path, *, label: str = "") -> Path:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return write_bytes(path, buffer.getvalue(), label=label)


def escape_cell(value: object) -> object:
    """A cell a spreadsheet will show, not run: formula-like text gets a leading "'".

    Plain numbers ("-5", "+3.5") are left as written: they are not formulas.
    """
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def write_people_csv(frame: pd.DataFrame, path: str | Path, *, label: str = "") -> Path:
    """A CSV meant for people (rejects, warnings, exports): spreadsheet-safe, atomic.

    Every text cell and header starting with = + - @ tab or carriage return is written
    with a leading apostrophe (OWASP's advice against CSV injection); numbers keep their
    form. The header is written even when there are no rows.
    """
    return write_text(path, people_csv(frame), label=label)


def people_csv(frame: pd.DataFrame) -> str:
    """`frame` as write_people_csv writes it, as text (a download, say)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([escape_cell(str(c)) for c in frame.columns])
    for row in frame.itertuples(index=False, name=None):
        writer.writerow([_csv_value(v) for v in row])
    return buffer.getvalue()


def _csv_value(value: object) -> object:
    if isinstance(value, str):
        return escape_cell(value)
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return value
