"""The titles default candidates may carry, and one held-out title per occupation that a
query may use instead (so exact-string match is not rewarded for free)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

HR_OCCUPATIONS: frozenset[str] = frozenset(
    {
        "Human resources specialists",
        "Human resources managers",
        "Training and development specialists",
        "Training and development managers",
        "Labor relations specialists",
        "Compensation, benefits, and job analysis specialists",
        "Compensation and benefits managers",
    }
)

MIN_TITLES_TO_HOLD_OUT = 3  # keep >= 2 titles of an occupation in the pool


def _contained_elsewhere(titles: Sequence[str]) -> set[str]:
    """Lower-cased titles that occur as a whole-word phrase inside another title."""
    counts: dict[str, int] = {}
    for title in titles:
        words = title.lower().split()
        grams = {
            " ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)
        }
        for gram in grams:
            counts[gram] = counts.get(gram, 0) + 1
    return {t.lower() for t in titles if counts.get(t.lower(), 0) > 1}


def title_pool(
    titles: pd.DataFrame, hr_boost: float, rng: np.random.Generator
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The titles candidates may carry (with sampling weights), and one held-out title per
    occupation that later becomes a query, so exact-string match is not rewarded for free."""
    # "Human resources specialists" is a group name, not a headline anyone writes.
    is_group_name = titles["raw"].str.lower() == titles["occupation"].str.lower()
    pool = titles[~is_group_name].reset_index(drop=True)
    contained = _contained_elsewhere(list(pool["raw"]))
    held_out: dict[str, str] = {}
    for occupation, group in pool.groupby("occupation", sort=True):
        options = sorted(t for t in group["raw"] if t.lower() not in contained)
        if len(group) >= MIN_TITLES_TO_HOLD_OUT and options:
            held_out[str(occupation)] = options[int(rng.integers(len(options)))]
    pool = pool[~pool["raw"].isin(set(held_out.values()))].reset_index(drop=True)
    boost = np.where(pool["occupation"].isin(HR_OCCUPATIONS), hr_boost, 1.0)
    pool["weight"] = boost / boost.sum()
    return pool, held_out
