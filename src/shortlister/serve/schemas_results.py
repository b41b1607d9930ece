"""Response parts that explain a result (why it is listed) and the filters a pool offers.

Kept apart from `schemas` (the request and the main bodies), which imports these.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class ClosestStar(BaseModel):
    id: str
    title: str
    similarity: float = Field(
        description="Cosine of the two headlines in the method's own vectors (for learned "
        "rankers, their Sentence-BERT space)."
    )


class ScoreParts(BaseModel):
    query: float | None = Field(
        description="The role's part: the query's cosine (learned rankers: their raw score, "
        "or with stars its per-request min-max rescaling to 0-1). Null without a query."
    )
    stars: float | None = Field(
        description="The stars' part: cosine to the normalised mean of the starred "
        "headlines. Null without stars."
    )
    star_weight: float = Field(
        description="The stars' share of this score: score = (1 - star_weight) * query + "
        "star_weight * stars (0 without stars, 1 without a query)."
    )


class Reasons(BaseModel):
    shared_words: list[str] = Field(
        description="The role's words found in the headline, after the matching's "
        "normalisation (abbreviations expanded: 'hr' is 'human resources'; case, accents "
        "and plurals folded); common function words left out. In the role's order."
    )
    highlights: list[tuple[int, int]] = Field(
        description="[start, end) character spans of `title` (as returned) holding those "
        "words, in order and not overlapping; neighbouring words form one span."
    )
    closest_star: ClosestStar | None = Field(
        description="The starred candidate this one is most similar to (for a starred one, "
        "the closest other star). Null without stars."
    )
    parts: ScoreParts = Field(
        description="The score's two terms; exact for an exact scan (through an ANN index "
        "the score is the index's approximation of the same blend)."
    )


class CountryCount(BaseModel):
    name: str = Field(description="The country's name, as `countries` in /rank takes it.")
    iso3: str
    n: int = Field(description="Candidates of the pool located there.")


class ScreeningRange(BaseModel):
    n_scored: int = Field(description="Candidates with a screening score.")
    min: float | None
    max: float | None


class FiltersResponse(BaseModel):
    countries: list[CountryCount] = Field(description="Most candidates first.")
    n_unresolved: int = Field(
        description="Candidates whose location names no country: they never pass a country filter."
    )
    screening: ScreeningRange
