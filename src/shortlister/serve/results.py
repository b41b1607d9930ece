"""A /rank response's items: the candidate fields, the country, the group and the reasons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shortlister.serve.reasons import (
    closest_stars,
    query_terms,
    score_parts,
    shared_words,
    star_similarities,
)
from shortlister.serve.refine import Refined
from shortlister.serve.schemas import RankedItem
from shortlister.serve.schemas_results import ClosestStar, Reasons, ScoreParts
from shortlister.serve.state import ServiceState


def ranked_items(
    state: ServiceState,
    ranker: Any,
    found: Refined,
    order: Sequence[int],
    query: str | None,
    query_scores: Any,
    star_weight: float,
) -> list[RankedItem]:
    """One item per row of `order` (starred rows first), its reasons computed for it alone."""
    order = [int(i) for i in order]
    star_rows = found.order[: found.n_starred]
    terms = query_terms(query)
    sims = star_similarities(ranker.matrix, order, star_rows)
    closest = closest_stars(sims, order, star_rows)
    parts = score_parts(ranker, query_scores, order, star_rows, sims, star_weight)
    ids, titles = state.titles
    items = []
    for r, (i, row) in enumerate(zip(order, state.rows.take(order), strict=True), start=1):
        words, spans = shared_words(row["title"], terms)
        near, group = closest[r - 1], found.groups.get(i, [])
        star = (
            None
            if near is None
            else ClosestStar(id=ids[near[0]], title=titles[near[0]], similarity=near[1])
        )
        items.append(
            RankedItem(
                rank=r,
                **{k: v for k, v in row.items() if k != "title_raw"},
                score=float(found.scores[i]),
                starred=r <= found.n_starred,
                country=state.facets.country_name(i),
                group_size=1 + len(group),
                group_ids=[ids[g] for g in group],
                reasons=Reasons(
                    shared_words=words,
                    highlights=spans,
                    closest_star=star,
                    parts=ScoreParts(**parts[r - 1]),
                ),
            )
        )
    return items
