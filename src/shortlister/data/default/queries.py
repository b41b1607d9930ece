"""The default queries: the client's two searches, then one per sampled occupation (a
held-out BLS title or the occupation's singular name), and their train/validation/test split."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from shortlister.core.errors import ConfigError
from shortlister.data.default.config import GenerateConfig

# The client's two real searches (Potential Talents); both target HR generalist-type roles.
CLIENT_OCCUPATION = "Human resources specialists"
CLIENT_QUERIES: tuple[str, ...] = ("aspiring human resources", "seeking human resources")
QUERY_TITLE_RATE = 0.5  # share of queries phrased as a held-out BLS title


def singular_name(occupation: str) -> str:
    """Lower-case occupation name with its head nouns singular: "human resources specialist"."""
    tokens = occupation.lower().split()
    out = []
    for i, token in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        is_head = nxt is None or nxt in ("and", "or", "including") or token.endswith(",")
        word, comma = (token[:-1], ",") if token.endswith(",") else (token, "")
        out.append((_singular(word) if is_head else word) + comma)
    return " ".join(out)


_KEEP_PLURAL = frozenset(
    """resources benefits services sales sciences arts sports goods systems materials operations
    communications relations electronics analysis securities commodities claims news""".split()
)


def _singular(word: str) -> str:
    """The singular of an occupation name's head noun, as a query would say it.

    Not `judgments._stem` nor `shortlister.ranking.bm25.s_stem`, on purpose: this keeps
    plurals that name one thing ("resources", "services") and undoes -ches/-shes/-xes and
    -wives, which the others do not ("coaches": coach here, "coache" for s_stem;
    "services" stays, s_stem gives "service"). Sharing one would change the default queries.
    """
    if word in _KEEP_PLURAL or not word.endswith("s") or word.endswith("ss"):
        return word
    if word.endswith("wives"):
        return word[:-3] + "fe"
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    return word[:-1]


def _phrase_in(phrase: str, blob: str) -> bool:
    # Lookarounds rather than \b because titles may end in "+" ("C++ Professor").
    return re.search(rf"(?<![a-z0-9]){re.escape(phrase.lower())}(?![a-z0-9])", blob) is not None


def choose_queries(
    labels: pd.DataFrame,
    headlines: Sequence[str],
    held_out: dict[str, str],
    cfg: GenerateConfig,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Queries with their target occupation: the two client searches, then one per occupation."""
    counts = labels["occupation"].value_counts()
    eligible = sorted(str(o) for o, n in counts.items() if n >= cfg.min_relevant)
    if CLIENT_OCCUPATION not in eligible:
        raise ConfigError(
            f"n_candidates={cfg.n_candidates} gives '{CLIENT_OCCUPATION}' only "
            f"{int(counts.get(CLIENT_OCCUPATION, 0))} candidates, fewer than "
            f"min_relevant={cfg.min_relevant}; raise n_candidates or hr_boost"
        )
    others = [o for o in eligible if o != CLIENT_OCCUPATION]
    need = cfg.n_queries - len(CLIENT_QUERIES)
    if len(others) < need:
        raise ConfigError(
            f"only {len(others)} other occupations have >= min_relevant={cfg.min_relevant} "
            f"candidates with n_candidates={cfg.n_candidates}, but n_queries={cfg.n_queries} "
            f"needs {need}; lower n_queries or raise n_candidates"
        )
    chosen = sorted(others[i] for i in rng.permutation(len(others))[:need])
    blob = "\n".join(headlines).lower()
    rows = [(q, CLIENT_OCCUPATION) for q in CLIENT_QUERIES]
    for occupation in chosen:
        wants_title = rng.random() < QUERY_TITLE_RATE  # drawn for every query: stable stream
        title = held_out.get(occupation)
        # A held-out title that a headline happens to spell out anyway would be a free match.
        if wants_title and title is not None and not _phrase_in(title, blob):
            rows.append((title.lower(), occupation))
        else:
            rows.append((singular_name(occupation), occupation))
    texts = [text for text, _ in rows]
    assert len(set(texts)) == len(texts), "query texts must be distinct"
    width = max(3, len(str(len(rows))))
    return pd.DataFrame(
        {
            "query_id": [f"q{i:0{width}d}" for i in range(1, len(rows) + 1)],
            "query": texts,
            "occupation": [occ for _, occ in rows],
        }
    )


def assign_splits(
    query_ids: Sequence[str], fractions: Sequence[float], rng: np.random.Generator
) -> list[str]:
    """Seeded shuffle by `fractions`; the client queries (the first ones) always go to test."""
    n = len(query_ids)
    n_client = len(CLIENT_QUERIES)
    others = n - n_client
    n_train = min(round(fractions[0] * n), others)
    n_val = min(round(fractions[1] * n), others - n_train)
    labels = ["train"] * n_train + ["validation"] * n_val + ["test"] * (others - n_train - n_val)
    order = rng.permutation(others)
    splits = ["test"] * n_client + [""] * others
    for position, index in enumerate(order):
        splits[n_client + int(index)] = labels[position]
    return splits
