"""Request and response bodies of the saved-shortlist endpoints (/shortlists)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shortlister.serve.shortlists.models import CANDIDATE_ID_CHARS, NAME_CHARS

NOTE_CHARS = 2000
# strict and closed, as RankRequest: 3 is not a name and unknown fields are typos.
_REQUEST = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

Name = Field(min_length=1, max_length=NAME_CHARS, description="The shortlist's name.")
Note = Field("", max_length=NOTE_CHARS, description="The recruiter's note on this candidate.")


class StarIn(BaseModel):
    model_config = _REQUEST

    id: str = Field(min_length=1, max_length=CANDIDATE_ID_CHARS, description="Candidate id.")
    note: str = Note


class ShortlistCreate(BaseModel):
    model_config = ConfigDict(
        **_REQUEST,
        json_schema_extra={
            "examples": [
                {
                    "name": "HR generalists, Berlin",
                    "query": "aspiring human resources",
                    "method": "tfidf",
                    "stars": [{"id": "c00032", "note": "strong onboarding background"}],
                }
            ]
        },
    )

    name: str = Name
    query: str | None = Field(None, description="The role query the shortlist is for.")
    method: str | None = Field(None, description="Ranking method (see /methods).")
    stars: list[StarIn] = Field(
        default_factory=list, description="Starred candidates, distinct, up to max_stars."
    )


class ShortlistPatch(BaseModel):
    """Only the fields given change; `query` or `method` null clears it."""

    model_config = _REQUEST

    name: str | None = Field(None, min_length=1, max_length=NAME_CHARS, description="New name.")
    query: str | None = Field(None, description="New role query; null clears it.")
    method: str | None = Field(None, description="New ranking method; null clears it.")


class StarNote(BaseModel):
    model_config = _REQUEST

    note: str = Note


class StarOut(BaseModel):
    id: str
    note: str
    starred_at: datetime


class ShortlistSummary(BaseModel):
    id: int
    name: str
    query: str | None
    method: str | None
    n_stars: int
    created_at: datetime
    updated_at: datetime


class Shortlist(ShortlistSummary):
    stars: list[StarOut] = Field(description="Starred candidates, in starring order.")


class ShortlistList(BaseModel):
    items: list[ShortlistSummary] = Field(description="Every shortlist, last changed first.")


class ExportedStar(BaseModel):
    position: int
    id: str
    title: str | None = Field(description="From the served pool; null when it lacks the id.")
    location: str | None
    screening_score: float | None
    note: str
    starred_at: datetime
    in_pool: bool


class ShortlistExport(BaseModel):
    id: int
    name: str
    query: str | None
    method: str | None
    created_at: datetime
    updated_at: datetime
    stars: list[ExportedStar]
