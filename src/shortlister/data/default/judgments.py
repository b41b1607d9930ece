"""Graded judgments of the default dataset, from the occupations: 3 same occupation, 2 a
shared content word, 1 same category (every other pair is 0 and not listed)."""

from __future__ import annotations

import re

import pandas as pd

# Heads that many unrelated occupations share; sharing only these does not make two
# occupations "related" (grade 2). Compared after `_stem`.
GENERIC_WORDS: frozenset[str] = frozenset(
    """workers occupations specialists managers technicians technologists assistants clerks
    operators helpers aides officers agents analysts scientists directors administrators
    representatives inspectors examiners service services and of other all including except
    the in for or to related general""".split()
)


def _stem(word: str) -> str:
    """Crude suffix stripping so "engineer", "engineers" and "engineering" meet.

    Not `queries._singular` nor `shortlister.ranking.bm25.s_stem`, on purpose: it also
    strips -ing, -er and -e, and its plural step drops the "s" of "-ous" words
    ("hazardous" -> "hazardou") where s_stem keeps it. The grades were made with it.
    """
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    if word.endswith("er") and len(word) > 4:
        word = word[:-2]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


_GENERIC_STEMS = frozenset(_stem(w) for w in GENERIC_WORDS)


def content_stems(occupation: str) -> frozenset[str]:
    """Stems of an occupation name's non-generic words."""
    stems = (_stem(w) for w in re.findall(r"[a-z]+", occupation.lower()))
    return frozenset(s for s in stems if s not in _GENERIC_STEMS and len(s) > 2)


def occupation_grade(query: str, other: str, categories: dict[str, str]) -> int:
    """3 same occupation, 2 shares a content word, 1 same category, else 0."""
    if query == other:
        return 3
    if content_stems(query) & content_stems(other):
        return 2
    return 1 if categories.get(query) == categories.get(other) else 0


def build_qrels(queries: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    categories = dict(zip(labels["occupation"], labels["category"], strict=True))
    occupations = sorted(categories)
    table = pd.DataFrame(
        [
            (qid, occ, occupation_grade(q_occ, occ, categories))
            for qid, q_occ in zip(queries["query_id"], queries["occupation"], strict=True)
            for occ in occupations
        ],
        columns=["query_id", "occupation", "grade"],
    )
    table = table[table["grade"] > 0]
    pairs = table.merge(labels[["id", "occupation"]], on="occupation")
    qrels = pairs.rename(columns={"id": "candidate_id"})[["query_id", "candidate_id", "grade"]]
    qrels = qrels.sort_values(["query_id", "candidate_id"]).reset_index(drop=True)
    return qrels.astype({"grade": "int64"})
