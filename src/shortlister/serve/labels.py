"""Plain names for the ranking methods, and what a method's Match score means.

The page shows `label` and keeps the technical name for a tooltip; one table here, so a
new method gets its words in one place (unknown methods fall back to their own name).
"""

from __future__ import annotations

from typing import Any

import scipy.sparse as sp

# method -> (label, one-line description)
METHOD_LABELS: dict[str, tuple[str, str]] = {
    "tfidf": (
        "keywords",
        "Words and word pieces the headline shares with the role (TF-IDF); catches "
        "misspellings, not synonyms.",
    ),
    "bm25": (
        "keywords (BM25)",
        "Words the headline shares with the role, rare words counting most (BM25).",
    ),
    "sbert": (
        "meaning",
        "Headlines that mean the same as the role, even in other words (Sentence-BERT).",
    ),
    "sbert-tuned": (
        "meaning (tuned)",
        "Meaning, by a Sentence-BERT model fine-tuned on job titles.",
    ),
    "word2vec": ("word vectors", "The average meaning of the headline's words (word2vec)."),
    "glove": ("word vectors (GloVe)", "The average meaning of the headline's words (GloVe)."),
    "fasttext": (
        "word vectors (fastText)",
        "The average meaning of the headline's words and word pieces (fastText).",
    ),
    "ranknet": (
        "learned ranker",
        "A model trained on graded examples to order headlines for a role (RankNet).",
    ),
    "lambdarank": (
        "learned ranker (LambdaRank)",
        "A model trained on graded examples to order headlines for a role (LambdaRank).",
    ),
    "llm": (
        "AI re-read (Gemma)",
        "A language model re-reads the best headlines of a first method and re-orders them.",
    ),
    "cross-encoder": (
        "close reading",
        "A cross-encoder reads the role and each of a first method's best headlines together "
        "and re-orders them.",
    ),
}


def method_label(name: str) -> tuple[str, str]:
    """(label, description) of a method; its own name and no description when unlisted."""
    return METHOD_LABELS.get(name, (name, ""))


def labelled(method: Any) -> dict[str, Any]:
    """A served method's /methods entry (`MethodState.describe`) with its plain words."""
    label, description = method_label(method.name)
    first = None if method.llm is None else method.llm.first_stage
    model = str(getattr(method.llm, "model", "") or "")
    if method.name == "llm" and model and "gemma" not in model.lower():
        label = f"AI re-read ({model})"  # the table's label names the default model
    scale = score_scale(label, method.ranker, first)
    return {**method.describe(), "label": label, "description": description, "score_scale": scale}


def score_scale(label: str, ranker: Any, first_stage: str | None = None) -> str:
    """One line on what the Match column means for this method (see RankedItem.score).

    `label` is the method's plain name; `ranker` is its ranker (for llm and cross-encoder:
    their first stage's, named by `first_stage`). The scale follows from the ranker's
    kind: sparse (lexical), learned or dense.
    """
    if first_stage is not None:  # the order is the second stage's, Match the first's
        first = method_label(first_stage)[0]
        return (
            f"Order: {label} of the {first} method's top; Match is the "
            f"{first} method's score: {_scale(ranker)}."
        )
    return f"Match: {_scale(ranker)}."


def _scale(ranker: Any) -> str:
    if hasattr(ranker, "ltr"):  # a LearnedRanker: raw model scores, unbounded
        return (
            "the learned ranker's own score, higher is better, comparable only within one "
            "list; with stars 0-1 (the pool's best 1, worst 0) blended with the stars' "
            "similarity"
        )
    if sp.issparse(getattr(ranker, "matrix", None)):
        return (
            "how much of the role's wording the headline shares, 0 = no word in common, "
            "1 = the same words; above 0 counts as a match"
        )
    floor = getattr(ranker, "match_floor", None)
    above = "" if floor is None else f"; above {float(floor):.2f} counts as a match"
    return (
        f"how close the headline's meaning is to the role, 0 = unrelated, 1 = the same "
        f"meaning{above}"
    )
