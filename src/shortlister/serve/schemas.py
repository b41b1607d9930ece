"""Request and response bodies of the HTTP API (they make its OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shortlister.serve.schemas_results import Reasons


class RankRequest(BaseModel):
    # strict: "10" is not a top_k and 3 is not a candidate id; unknown fields are typos.
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"query": "aspiring human resources", "stars": [], "top_k": 10},
                {"query": "aspiring human resources", "stars": ["c00032", "c00511"]},
                {
                    "query": "aspiring human resources",
                    "countries": ["United States"],
                    "screening_min": 50,
                    "sort": "screening",
                    "group_duplicates": True,
                },
            ]
        },
    )

    query: str | None = Field(
        None, description="Target role. May be empty when stars are given (rank by stars alone)."
    )
    stars: list[str] = Field(
        default_factory=list,
        description="Starred candidate ids (distinct, up to max_stars); pinned at the top "
        "in this order, and their mean embedding steers the rest of the ranking.",
    )
    method: str | None = Field(
        None, description="Ranking method (see /methods); default: the server's."
    )
    top_k: int | None = Field(None, ge=1, description="Items to return (capped by max_top_k).")
    star_weight: float | None = Field(
        None, ge=0.0, le=1.0, description="Share of the score from similarity to the stars."
    )
    countries: list[str] = Field(
        default_factory=list,
        description="Only candidates located in these countries (names or ISO3 codes, as "
        "/filters lists them; case-insensitive). Empty: any location.",
    )
    screening_min: float | None = Field(
        None, ge=0.0, le=100.0, description="Only candidates screened at least this (0-100)."
    )
    screening_max: float | None = Field(
        None,
        ge=0.0,
        le=100.0,
        description="Only candidates screened at most this (0-100). With either bound, "
        "candidates without a screening score are left out.",
    )
    sort: Literal["match", "screening"] = Field(
        "match",
        description="Order of the top k that pass: by match, or by screening score (highest "
        "first, ties by match, unscored last). Starred candidates stay pinned first.",
    )
    group_duplicates: bool = Field(
        False,
        description="Fold candidates with the same headline (after normalisation) into one "
        "row: the best-ranked, with group_size and group_ids. Starred ones are never folded.",
    )

    @model_validator(mode="after")
    def _range(self) -> RankRequest:
        lo, hi = self.screening_min, self.screening_max
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"screening_min ({lo:g}) must not exceed screening_max ({hi:g})")
        return self


class RankedItem(BaseModel):
    rank: int
    id: str
    title: str
    location: str
    screening_score: float | None
    score: float = Field(
        description="Blended cosine score (the query's, when nothing is starred); a learned "
        "ranker's raw score without stars, its per-request min-max-normalised score blended "
        "with the stars' similarity with stars. Method llm: the first stage's score (the "
        "order is the LLM's, so scores need not decrease down the list)."
    )
    starred: bool = Field(description="Starred by the request, so pinned at the top.")
    country: str | None = Field(None, description="The location's country; null: unresolved.")
    group_size: int = Field(
        1,
        description="group_duplicates: candidates with this headline that pass (this one "
        "included); 1 otherwise.",
    )
    group_ids: list[str] = Field(
        default_factory=list,
        description="group_duplicates: the others with this headline that pass, in rank order.",
    )
    reasons: Reasons | None = Field(None, description="Why this candidate is listed.")


class Timing(BaseModel):
    query_ms: float = Field(
        description="Encoding the query and scoring the pool for it (~0 when cached)."
    )
    rank_ms: float = Field(
        description="Blending in the stars' similarities (cached per star) and selecting the top k."
    )
    total_ms: float
    query_cached: bool = Field(description="The query was not re-encoded (LRU cache hit).")


class MatchInfo(BaseModel):
    matched: bool = Field(
        description="False when no candidate scores above the method's floor: the list is "
        "then only the pool's order of accidents (show `notice` instead)."
    )
    best_score: float = Field(description="The best candidate's similarity to the query.")
    floor: float = Field(
        description="0 for lexical methods; for dense ones a share of the pool's typical "
        "best title-to-title similarity."
    )
    notice: str | None = Field(None, description="What to tell the user when nothing matched.")


class LLMInfo(BaseModel):
    status: Literal["reranked", "timeout", "error", "skipped"] = Field(
        description="reranked: the order below is the LLM's; timeout, error: the LLM gave no "
        "answer in time or failed, so the order is the first stage's; skipped: nothing for "
        "the LLM to do (no query, no match), the first stage's order."
    )
    first_stage: str = Field(description="The method whose top the LLM re-ranks.")
    model: str
    seconds: float = Field(description="Time waited for the LLM (0 when skipped or cached).")
    timeout_s: float = Field(description="The time limit (llm.serve_timeout_s).")
    depth: int = Field(description="Candidates after the stars handed to the LLM.")
    cached: bool = Field(description="The same query and candidates were re-ranked before.")
    detail: str | None = Field(None, description="Why the LLM did not re-rank.")


class RankResponse(BaseModel):
    method: str
    query: str | None
    stars: list[str]
    star_weight: float
    top_k: int
    n_candidates: int
    n_passing: int = Field(description="Candidates of the pool that pass the filters.")
    items: list[RankedItem]
    match: MatchInfo | None = Field(
        None, description="Whether the query matched any candidate (null without a query)."
    )
    llm: LLMInfo | None = Field(
        None,
        description="Method llm: whether the LLM re-ranked the first stage's top (stars stay "
        "pinned first; the LLM orders the candidates after them). Null for other methods.",
    )
    timing: Timing


class Candidate(BaseModel):
    id: str
    title: str
    title_raw: str | None = Field(description="The title as it was in the candidate file.")
    location: str
    screening_score: float | None


class LLMMethodInfo(BaseModel):
    first_stage: str = Field(description="The served method whose top the LLM re-ranks.")
    model: str
    backend: str
    scorer: str = Field(description="pointwise (yes/no per candidate) or listwise.")
    depth: int = Field(description="How many of the first stage's top are re-ranked.")
    timeout_s: float = Field(
        description="How long a request waits for the LLM before answering with the first "
        "stage's order."
    )
    load_seconds: float


class IndexInfo(BaseModel):
    backend: str = Field(description="faiss-hnsw, faiss-ivf, usearch-hnsw or int8-scan.")
    n: int = Field(description="Rows indexed (the pool's size).")
    storage: str = Field(description="How the index keeps the vectors: int8, fp16 or fp32.")
    ef_search: int | None = Field(None, description="HNSW: the search's candidate list.")
    nprobe: int | None = Field(None, description="IVF: the lists visited per search.")
    stored: bool = Field(
        description="The pipeline's index (stage index@<method>); false: built at start-up."
    )


class MethodInfo(BaseModel):
    name: str
    label: str = Field(description="A plain name for the page; `name` is the technical one.")
    description: str = Field(description="One line on how the method ranks.")
    score_scale: str = Field(description="One line on what its Match score means.")
    source: str = Field(
        description="'stored': the pipeline's embeddings; 'fitted': at start-up; "
        "'trained': a learned re-ranker (dimension: its Sentence-BERT space); 'llm': an LLM "
        "re-ranking a first stage (dimension: the first stage's)."
    )
    dimension: int
    sparse: bool
    load_seconds: float
    llm: LLMMethodInfo | None = Field(None, description="Method llm only.")
    index: IndexInfo | None = Field(
        None, description="The ANN index searched (pools of index.min_pool or more); null: exact."
    )


class Limits(BaseModel):
    max_stars: int
    default_top_k: int
    max_top_k: int
    max_query_chars: int
    max_body_bytes: int


class MethodsResponse(BaseModel):
    default: str
    methods: list[MethodInfo]
    unavailable: dict[str, str] = Field(description="Configured methods not served, and why.")
    star_weight: float
    limits: Limits


class Health(BaseModel):
    status: str
    n_candidates: int
    methods: list[str]
    index: dict[str, IndexInfo | None] = Field(
        description="Per method: the ANN index its pool is searched through (at least "
        "index.min_pool candidates, dense methods); null: an exact scan of every candidate."
    )
    auth_required: bool


class ErrorResponse(BaseModel):
    error: str = Field(description="A stable code, e.g. 'invalid_stars' or 'body_too_large'.")
    detail: str = Field(description="What was wrong and what was expected.")
    errors: list[dict[str, Any]] | None = Field(None, description="Per-field validation errors.")
