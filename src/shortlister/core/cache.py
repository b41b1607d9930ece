"""Where derived, rebuildable files live (`.cache/` in the repository), and how an entry
proves it is complete and of the inputs asked for.

No hidden state: the pipeline's caches are repository-local, `.cache/<name>` relative to
the working directory (the repository root for `dvc repro`; git-ignored), never a user
folder such as `~/.cache` that another checkout or an old run may have filled. Code that
runs without params.yaml (the CLI or the service elsewhere) defaults to
`$SHORTLISTER_CACHE/<name>` when that variable is set, else the same `.cache/<name>`.

Each entry is keyed by what produced it (`cache_key`: source digests, package versions,
conversion settings). `build_entry` writes a folder under a temporary name, adds the
marker `MARKER` holding the key last, and renames it into place, so a folder without the
marker (interrupted, copied half-way) or with another key is stale: it is removed and
rebuilt, never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CACHE_ENV = "SHORTLISTER_CACHE"
DEFAULT_CACHE = ".cache"
MARKER = ".shortlister-complete.json"  # written last: the entry is whole and of this key


def cache_dir(name: str) -> str:
    """The built-in default for cache `name`: `$SHORTLISTER_CACHE/<name>`, else `.cache/<name>`
    (relative to the working directory, like every path in params.yaml)."""
    return str(Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE) / name)


def cache_path(path: str | Path) -> Path:
    """A configured cache path, `~` and `$VARS` expanded (a user's own path keeps working)."""
    return Path(os.path.expandvars(str(path))).expanduser()


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def versions(names: Iterable[str]) -> dict[str, str | None]:
    """Installed versions of the packages that shape an entry (None: not installed)."""
    return {name: package_version(name) for name in names}


def cache_key(parts: Mapping[str, Any]) -> str:
    """A stable digest of what produced an entry (JSON, sorted keys)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def file_digest(path: str | Path, block: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


_FOLDER_DIGESTS: dict[tuple, str] = {}


def folder_digest(folder: str | Path, skip: Iterable[str] = ()) -> str:
    """A digest of every file under `folder` (relative names and contents), leaving out the
    top-level entries named in `skip`. Remembered per process while no file changes."""
    root = Path(folder)
    skip = set(skip)
    files = sorted(
        p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] not in skip
    )
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    if stamp not in _FOLDER_DIGESTS:
        digest = hashlib.sha256()
        for path in files:
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(file_digest(path).encode())
        _FOLDER_DIGESTS[stamp] = digest.hexdigest()
    return _FOLDER_DIGESTS[stamp]


def entry_key(folder: str | Path) -> str | None:
    """The key an entry was completed with; None when its marker is missing or unreadable."""
    try:
        return json.loads((Path(folder) / MARKER).read_text())["key"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_complete(folder: str | Path, key: str) -> bool:
    return entry_key(folder) == key


def write_marker(folder: str | Path, key: str, about: Mapping[str, Any] | None = None) -> None:
    """Mark `folder` complete for `key` (atomically: a marker is whole or absent)."""
    body = {"key": key, **(dict(about) if about else {})}
    tmp = Path(folder) / f"{MARKER}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.write_text(json.dumps(body, indent=2, default=str) + "\n")
    os.replace(tmp, Path(folder) / MARKER)


def remove_stale(folder: str | Path, key: str) -> bool:
    """Remove `folder` when it exists but is not a complete entry of `key`; True if removed."""
    folder = Path(folder)
    if not folder.exists() or is_complete(folder, key):
        return False
    logger.warning(
        "%s: stale or incomplete cache entry (marker missing or of another key); rebuilding it",
        folder,
    )
    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)
    else:
        folder.unlink()
    return True


def build_entry(
    final: str | Path,
    key: str,
    write: Callable[[Path], None],
    about: Mapping[str, Any] | None = None,
) -> Path:
    """The complete entry `final` of `key`: reused when complete, else (re)built by
    `write(scratch)`, which creates the temporary sibling folder `scratch` and fills it
    (as `save_pretrained` does), then marked and renamed into place."""
    final = Path(final)
    if is_complete(final, key):
        return final
    remove_stale(final, key)
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        write(scratch)
        write_marker(scratch, key, about)
        try:
            os.rename(scratch, final)
        except OSError:
            if not is_complete(final, key):  # not another process's finished copy
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return final


# A transformers Trainer writes `checkpoint-<step>/` piece by piece and trainer_state.json
# last; a folder without it (a run killed mid-save) must not be resumed from.
CHECKPOINT_FILES = ("trainer_state.json",)


def last_complete_checkpoint(folder: str | Path) -> str | None:
    """The highest `checkpoint-<step>` folder under `folder` that a Trainer finished
    writing (incomplete ones are removed); None when there is none."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    steps = sorted(
        (int(p.name.split("-")[1]), p)
        for p in folder.iterdir()
        if p.is_dir() and p.name.startswith("checkpoint-") and p.name.split("-")[1].isdigit()
    )
    for _, path in reversed(steps):
        if all((path / name).is_file() for name in CHECKPOINT_FILES):
            return str(path)
        logger.warning("%s: incomplete checkpoint (no trainer_state.json); removing it", path)
        shutil.rmtree(path, ignore_errors=True)
    return None
