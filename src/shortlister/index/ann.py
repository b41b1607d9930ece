"""An index over a pool's stored embeddings: built once, checked against them when loaded.

`AnnIndex.build(matrix, cfg, model_hash)` builds the backend named by `cfg.backend`
(FAISS HNSW or IVF, usearch HNSW, or the exact int8 scan), `save` writes it beside a
manifest, and `load` refuses an index whose manifest does not match the embeddings it is
meant to search (row count, dimension, model hash, a fingerprint of the rows): a stale
index would return other candidates' rows. Vectors are unit length; scores are inner
products (cosines), best first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from shortlister.core.errors import DataError
from shortlister.index.config import IndexConfig
from shortlister.index.scan import Int8Scan

logger = logging.getLogger(__name__)
# faiss logs each optimised build it tries and fails to import (AVX-512, ...) at INFO.
logging.getLogger("faiss.loader").setLevel(logging.WARNING)

MANIFEST = "index.json"
_FILES = {"faiss-hnsw": "index.faiss", "faiss-ivf": "index.faiss", "usearch-hnsw": "index.usearch"}
_FAISS_CODES = {"int8": "SQ8", "fp16": "SQfp16", "fp32": "Flat"}
_USEARCH_DTYPES = {"int8": "i8", "fp16": "f16", "fp32": "f32"}


def neighbour_recall(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each exact top list (rows of `exact`) that `found` holds; -1 rows
    (a search that came back short) count as misses."""
    shares = [
        len(set(f[f >= 0].tolist()) & set(e.tolist())) / len(e)
        for f, e in zip(found, exact, strict=True)
        if len(e)
    ]
    return float(np.mean(shares)) if shares else float("nan")


class IndexMismatch(DataError):
    """A stored index that was not built from these embeddings (or this model)."""


def fingerprint(matrix: np.ndarray, sample: int = 1024) -> str:
    """SHA-1 of the shape and of up to `sample` evenly spaced rows: cheap on a memmap."""
    n = matrix.shape[0]
    rows = np.unique(np.linspace(0, max(n - 1, 0), num=min(n, sample)).astype(np.int64))
    digest = hashlib.sha1(f"{matrix.shape}".encode())
    digest.update(np.ascontiguousarray(matrix[rows], dtype=np.float32).tobytes())
    return digest.hexdigest()


@dataclass
class Manifest:
    params: dict[str, Any]  # IndexConfig.params(): what shaped the index
    n: int
    dim: int
    model_hash: str  # identity of the model that wrote the embeddings
    embeddings_hash: str  # fingerprint() of the embeddings
    build_s: float = 0.0
    nbytes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def backend(self) -> str:
        return str(self.params["backend"])

    def check(self, matrix: np.ndarray, model_hash: str | None, where: Path) -> None:
        """Raise IndexMismatch naming what differs, with how to rebuild."""
        found = []
        if matrix.shape[0] != self.n:
            found.append(f"{self.n} rows indexed, the embeddings have {matrix.shape[0]}")
        if matrix.shape[1] != self.dim:
            found.append(f"dimension {self.dim} indexed, the embeddings have {matrix.shape[1]}")
        if model_hash is not None and model_hash != self.model_hash:
            found.append(
                f"model hash {self.model_hash[:12]} indexed, the model is {model_hash[:12]}"
            )
        if not found and fingerprint(matrix) != self.embeddings_hash:
            found.append("the embeddings' rows differ from those indexed")
        if found:
            raise IndexMismatch(
                "index does not match its embeddings: "
                + "; ".join(found)
                + " (rebuild it: `dvc repro index@<method>`)",
                path=where,
            )


class AnnIndex:
    """One backend behind `search(queries, k) -> (rows, scores)`; rows are pool positions."""

    def __init__(self, backend: Any, manifest: Manifest, cfg: IndexConfig) -> None:
        self.backend, self.manifest, self.cfg = backend, manifest, cfg
        self.set_search(cfg)

    @property
    def name(self) -> str:
        return self.manifest.backend

    @property
    def n(self) -> int:
        return self.manifest.n

    @classmethod
    def build(cls, matrix: np.ndarray, cfg: IndexConfig, model_hash: str = "") -> AnnIndex:
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] == 0:
            raise DataError(f"cannot index embeddings of shape {matrix.shape}; expected (n>0, d)")
        t0 = time.perf_counter()
        backend = _BUILDERS[cfg.backend](matrix, cfg)
        manifest = Manifest(
            cfg.params(),
            int(matrix.shape[0]),
            int(matrix.shape[1]),
            model_hash,
            fingerprint(matrix),
            build_s=round(time.perf_counter() - t0, 3),
        )
        index = cls(backend, manifest, cfg)
        manifest.nbytes = index.nbytes()
        logger.info(
            "%s index: %d x %d in %.1fs, %.1f MB",
            cfg.backend,
            manifest.n,
            manifest.dim,
            manifest.build_s,
            manifest.nbytes / 2**20,
        )
        return index

    def set_search(self, cfg: IndexConfig) -> None:
        """Apply the search-time knobs (ef_search, nprobe) of `cfg`."""
        self.cfg = replace(self.cfg, ef_search=cfg.ef_search, nprobe=cfg.nprobe)
        if self.name == "faiss-hnsw":
            self.backend.hnsw.efSearch = cfg.ef_search
        elif self.name == "faiss-ivf":
            import faiss

            faiss.extract_index_ivf(self.backend).nprobe = cfg.nprobe
        elif self.name == "usearch-hnsw":
            self.backend.expansion_search = cfg.ef_search

    def nbytes(self) -> int:
        if self.name == "int8-scan":
            return self.backend.nbytes
        if self.name == "usearch-hnsw":
            return int(self.backend.memory_usage)
        import faiss

        return int(faiss.serialize_index(self.backend).nbytes)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of shape (m, k'), best first, k' = min(k, n); rows -1 when short."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(int(k), self.n)
        if k <= 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.int64), empty.astype(np.float32)
        if self.name == "int8-scan":
            return self.backend.search(queries, k)
        # A graph search keeps max(ef_search, k) candidates: fewer than k cannot fill k.
        ef = max(self.cfg.ef_search, k)
        if self.name == "usearch-hnsw":
            if self.backend.expansion_search != ef:
                self.backend.expansion_search = ef
            found = self.backend.search(queries, k, threads=1)
            rows = np.asarray(found.keys, dtype=np.int64).reshape(len(queries), -1)
            scores = 1.0 - np.asarray(found.distances, dtype=np.float32).reshape(len(queries), -1)
            # one query: Matches (no counts); several: BatchMatches
            counts = np.asarray(getattr(found, "counts", [len(found.keys)])).reshape(-1)
            mask = np.arange(rows.shape[1])[None, :] >= counts[:, None]
            rows[mask] = -1
            return rows, scores.astype(np.float32)
        params = None
        if self.name == "faiss-hnsw":
            import faiss

            params = faiss.SearchParametersHNSW()
            params.efSearch = ef
        scores, rows = self.backend.search(queries, k, params=params)
        return rows.astype(np.int64), scores.astype(np.float32)

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self.name == "int8-scan":
            np.save(directory / "codes.npy", self.backend.codes)
            np.save(directory / "scales.npy", self.backend.scales)
        elif self.name == "usearch-hnsw":
            self.backend.save(str(directory / _FILES[self.name]))
        else:
            import faiss

            faiss.write_index(self.backend, str(directory / _FILES[self.name]))
        manifest = json.dumps(asdict(self.manifest), indent=2, sort_keys=True)
        (directory / MANIFEST).write_text(manifest + "\n")
        return directory

    @classmethod
    def load(
        cls,
        directory: str | Path,
        matrix: np.ndarray,
        model_hash: str | None = None,
        cfg: IndexConfig | None = None,
    ) -> AnnIndex:
        """The index saved in `directory`, refused (IndexMismatch) unless built from `matrix`.

        `cfg` gives the search-time knobs; the build settings come from the manifest.
        """
        directory = Path(directory)
        path = directory / MANIFEST
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no index here (run `dvc repro index@<method>`)")
        try:
            manifest = Manifest(**json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise DataError(f"unreadable index manifest ({exc})", path=path) from exc
        manifest.check(matrix, model_hash, path)
        saved = IndexConfig.from_config(manifest.params)
        needed = (
            ["codes.npy", "scales.npy"] if saved.backend == "int8-scan" else [_FILES[saved.backend]]
        )
        missing = [name for name in needed if not (directory / name).is_file()]
        if missing:
            raise DataError(
                f"index files missing beside the manifest: {', '.join(missing)} "
                "(rebuild it: `dvc repro index@<method>`)",
                path=path,
            )
        if cfg is not None:
            saved = replace(
                saved, ef_search=cfg.ef_search, nprobe=cfg.nprobe, min_pool=cfg.min_pool
            )
        if saved.backend == "int8-scan":
            codes = np.load(directory / "codes.npy", mmap_mode="r")
            backend: Any = Int8Scan(codes, np.load(directory / "scales.npy"), saved.threads)
        elif saved.backend == "usearch-hnsw":
            from usearch.index import Index

            backend = Index.restore(str(directory / _FILES[saved.backend]), view=True)
        else:
            import faiss

            backend = faiss.read_index(str(directory / _FILES[saved.backend]))
        return cls(backend, manifest, saved)


def _faiss_hnsw(matrix: np.ndarray, cfg: IndexConfig) -> Any:
    import faiss

    _faiss_threads(cfg)
    spec = f"HNSW{cfg.connectivity},{_FAISS_CODES[cfg.storage]}"
    index = faiss.index_factory(matrix.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = cfg.ef_construction
    index.train(_training_sample(matrix, cfg))
    index.add(matrix)
    return index


def _faiss_ivf(matrix: np.ndarray, cfg: IndexConfig) -> Any:
    import faiss

    _faiss_threads(cfg)
    n = matrix.shape[0]
    nlist = cfg.nlist or max(1, min(n // 39, int(4 * np.sqrt(n))))
    spec = f"IVF{nlist},{_FAISS_CODES[cfg.storage]}"
    index = faiss.index_factory(matrix.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
    index.train(_training_sample(matrix, cfg, per_list=64 * nlist))
    index.add(matrix)
    return index


def _usearch_hnsw(matrix: np.ndarray, cfg: IndexConfig) -> Any:
    from usearch.index import Index

    index = Index(
        ndim=matrix.shape[1],
        # cos, not ip: usearch's int8 inner product is of the raw codes; rows are unit
        # length, so the cosine is the same score
        metric="cos",
        dtype=_USEARCH_DTYPES[cfg.storage],
        connectivity=cfg.connectivity,
        expansion_add=cfg.ef_construction,
        expansion_search=cfg.ef_search,
    )
    index.add(np.arange(matrix.shape[0], dtype=np.uint64), matrix, threads=cfg.threads)
    return index


def _int8_scan(matrix: np.ndarray, cfg: IndexConfig) -> Any:
    return Int8Scan.build(matrix, threads=cfg.threads)


def _faiss_threads(cfg: IndexConfig) -> None:
    if cfg.threads:
        import faiss

        faiss.omp_set_num_threads(cfg.threads)


def _training_sample(matrix: np.ndarray, cfg: IndexConfig, per_list: int = 0) -> np.ndarray:
    """A seeded sample of rows for the quantiser's (and IVF's k-means) training."""
    size = min(matrix.shape[0], max(100_000, per_list))
    if size == matrix.shape[0]:
        return matrix
    rows = np.sort(np.random.default_rng(cfg.seed).choice(matrix.shape[0], size, replace=False))
    return np.ascontiguousarray(matrix[rows])


_BUILDERS = {
    "faiss-hnsw": _faiss_hnsw,
    "faiss-ivf": _faiss_ivf,
    "usearch-hnsw": _usearch_hnsw,
    "int8-scan": _int8_scan,
}
