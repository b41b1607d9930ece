"""One served method: its ranker, where it came from, and its second stage (LLM, cross-encoder)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import scipy.sparse as sp

from shortlister.index.ann import AnnIndex
from shortlister.ranking.pool import CandidatePool

if TYPE_CHECKING:  # torch: imported when a learned ranker is loaded (load_learned), not before
    from shortlister.ranking.ltr.pool import LearnedRanker
    from shortlister.serve.cross_rerank import CrossStage
    from shortlister.serve.llm_rerank import LLMStage


@dataclass
class MethodState:
    name: str
    ranker: CandidatePool | LearnedRanker
    # "stored" (embed stage), "fitted" (at start-up), "trained" (learned ranker), "llm" or
    # "cross-encoder" (a second stage over a first stage, whose ranker this then is)
    source: str
    load_seconds: float
    llm: LLMStage | CrossStage | None = None  # the second stage (the response's `llm` field)
    index_stored: bool = False  # the index is the pipeline's (index@<method>), not built now

    def index_info(self) -> dict[str, Any] | None:
        """The ANN index the pool is searched through; None: an exact scan."""
        index = getattr(self.ranker, "index", None)
        if not isinstance(index, AnnIndex):  # (a learned ranker's `index` is its features)
            return None
        return {
            "backend": index.name,
            "n": index.n,
            "storage": index.manifest.params.get("storage", "int8"),
            "ef_search": index.cfg.ef_search if index.name.endswith("-hnsw") else None,
            "nprobe": index.cfg.nprobe if index.name == "faiss-ivf" else None,
            "stored": self.index_stored,
        }

    def describe(self) -> dict[str, Any]:
        matrix = self.ranker.matrix
        return {
            "name": self.name,
            "source": self.source,
            "dimension": int(matrix.shape[1]),
            "sparse": bool(sp.issparse(matrix)),
            "load_seconds": round(self.load_seconds, 3),
            "llm": None if self.llm is None else self.llm.describe(),
            "index": self.index_info(),
        }
