"""The Embedder interface and the registry keyed by config-group name."""

from __future__ import annotations

import json
import logging
import mmap as mmap_module
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from shortlister.core.errors import ConfigError

logger = logging.getLogger(__name__)

# Rows are L2-normalised, so a dot product is a cosine similarity.
Matrix = np.ndarray | sp.csr_matrix

REGISTRY: dict[str, type[Embedder]] = {}


def register(name: str) -> Callable[[type[Embedder]], type[Embedder]]:
    """Class decorator: make an Embedder selectable as `embeddings=<name>`."""

    def wrap(cls: type[Embedder]) -> type[Embedder]:
        if name in REGISTRY:
            raise ValueError(f"embedder '{name}' is registered twice")
        cls.name = name
        REGISTRY[name] = cls
        return cls

    return wrap


class Embedder(ABC):
    """Turns titles into L2-normalised vectors; cosine similarity ranks candidates.

    Subclasses set `config_class` (a dataclass validated in __post_init__) and
    implement fit/encode/save/load. `fit` sees only candidate titles, never queries.
    """

    name: ClassVar[str] = ""
    config_class: ClassVar[type]

    def __init__(self, config: Any) -> None:
        self.config = config

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Embedder:
        known = {f.name for f in fields(cls.config_class)}
        knobs = {k: v for k, v in cfg.items() if k != "name"}
        unknown = sorted(set(knobs) - known)
        if unknown:
            raise ConfigError(
                f"embeddings={cls.name}: unknown option(s) {unknown}; "
                f"expected some of {sorted(known)}"
            )
        return cls(cls.config_class(**knobs))

    @abstractmethod
    def fit(self, texts: Sequence[str]) -> Embedder:
        """Learn what the method needs from the candidate pool (no-op for pretrained encoders)."""

    @abstractmethod
    def encode(self, texts: Sequence[str]) -> Matrix:
        """Return one L2-normalised row per text (float32)."""

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"name": self.name, "config": asdict(self.config)}
        (directory / "embedder.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        self._save_state(directory)

    def _save_state(self, directory: Path) -> None:  # noqa: B027 - optional hook
        """Persist fitted state; stateless embedders keep nothing."""

    def _load_state(self, directory: Path) -> None:  # noqa: B027 - optional hook
        """Restore what `_save_state` wrote."""


def build_embedder(cfg: Mapping[str, Any]) -> Embedder:
    """Build the embedder named by `cfg['name']` with the remaining keys as its config."""
    _import_builtin_methods()
    name = cfg.get("name")
    if name not in REGISTRY:
        raise ConfigError(f"unknown embedding method {name!r}; expected one of {sorted(REGISTRY)}")
    return REGISTRY[name].from_config(cfg)


def load_embedder(directory: str | Path) -> Embedder:
    """Load an embedder saved with `Embedder.save`."""
    directory = Path(directory)
    meta_path = directory / "embedder.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{meta_path}: no saved embedder here (run the embed stage first)")
    meta = json.loads(meta_path.read_text())
    embedder = build_embedder({"name": meta["name"], **meta["config"]})
    embedder._load_state(directory)
    return embedder


def available_methods() -> list[str]:
    _import_builtin_methods()
    return sorted(REGISTRY)


def _import_builtin_methods() -> None:
    # Imported here, not at package import, so `import shortlister` stays light;
    # heavy libraries are imported lazily inside the methods themselves.
    from shortlister.embeddings import fasttext, glove, sbert, tfidf, tuned, word2vec  # noqa: F401


def l2_normalise(matrix: Matrix) -> Matrix:
    """Scale rows to unit length; all-zero rows (no known token) stay zero."""
    if sp.issparse(matrix):
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix, dtype=np.float32)
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def save_matrix(path_stem: str | Path, matrix: Matrix) -> Path:
    """Save as `<stem>.npy` (dense float32) or `<stem>.npz` (sparse CSR)."""
    path_stem = Path(path_stem)
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    if sp.issparse(matrix):
        path = path_stem.with_suffix(".npz")
        sp.save_npz(path, sp.csr_matrix(matrix), compressed=True)
    else:
        path = path_stem.with_suffix(".npy")
        np.save(path, np.asarray(matrix, dtype=np.float32))
    return path


def _load_mapped(path: Path) -> np.ndarray:
    """A read-only memory map, random access advised (no read-ahead I/O for sampled rows).

    Rows are read from the page cache on demand. The process's file-backed RSS still grows
    as rows are touched (the kernel maps whole cached folios): that memory is the page
    cache's, shared and reclaimable, not the process's own (benchmarks/serve_large.py
    reports both).
    """
    matrix = np.load(path, mmap_mode="r")
    handle = getattr(matrix, "_mmap", None)
    if handle is not None and hasattr(mmap_module, "MADV_RANDOM"):
        handle.madvise(mmap_module.MADV_RANDOM)
    return matrix


def load_matrix(path_stem: str | Path, mmap: bool = False) -> Matrix:
    """`<stem>.npy` (memory-mapped read-only with `mmap`: pages load as rows are read) or
    `<stem>.npz` (sparse, always read whole)."""
    path_stem = Path(path_stem)
    dense = _load_mapped if mmap else np.load
    for suffix, loader in ((".npy", dense), (".npz", sp.load_npz)):
        path = path_stem.with_suffix(suffix)
        if path.exists():
            return loader(path)
    raise FileNotFoundError(f"{path_stem}.npy/.npz: no stored embeddings (run the embed stage)")
