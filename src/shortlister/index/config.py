"""The index's settings (`index` in params.yaml, conf/index/default.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shortlister.core.checks import build, check_choice, check_int

BACKENDS = ("faiss-hnsw", "faiss-ivf", "usearch-hnsw", "int8-scan")
STORAGE = ("int8", "fp16", "fp32")


@dataclass
class IndexConfig:
    # faiss-hnsw / usearch-hnsw: a graph; faiss-ivf: inverted lists; int8-scan: exact scan
    # of int8 rows (no approximation but the rounding)
    backend: str = "faiss-hnsw"
    storage: str = "int8"  # how the vectors are kept in the index (int8-scan: always int8)
    connectivity: int = 32  # HNSW: neighbours per node (M)
    ef_construction: int = 80  # HNSW: candidate list while inserting
    ef_search: int = 64  # HNSW: candidate list while searching (recall vs latency)
    nlist: int = 0  # IVF: number of lists; 0 = 4 * sqrt(n)
    nprobe: int = 32  # IVF: lists visited per search
    # Pools with at least this many candidates are searched through the index (CLI,
    # service); smaller ones are scanned exactly in float32 (exact, and 15 ms at 106k).
    min_pool: int = 200_000
    # build threads, and the int8 scan's per search; 0 = all cores (graph searches: one)
    threads: int = 0
    # stage index@<method>, one per entry (dense methods)
    methods: list[str] = field(default_factory=lambda: ["sbert-tuned", "sbert"])
    seed: int = 13

    def __post_init__(self) -> None:
        check_choice("index.backend", self.backend, BACKENDS)
        check_choice("index.storage", self.storage, STORAGE)
        for key in ("connectivity", "ef_construction", "ef_search", "nprobe"):
            check_int(f"index.{key}", getattr(self, key), minimum=1)
        for key in ("nlist", "min_pool", "threads", "seed"):
            check_int(f"index.{key}", getattr(self, key), minimum=0)
        self.methods = list(self.methods)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> IndexConfig:
        return build(cls, cfg, "index")

    def params(self) -> dict[str, Any]:
        """The settings that shape a built index (stored in its manifest)."""
        keep = {
            "faiss-hnsw": ("storage", "connectivity", "ef_construction"),
            "usearch-hnsw": ("storage", "connectivity", "ef_construction"),
            "faiss-ivf": ("storage", "nlist"),
            "int8-scan": (),
        }[self.backend]
        return {"backend": self.backend, **{k: getattr(self, k) for k in keep}}
