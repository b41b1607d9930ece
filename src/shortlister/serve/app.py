"""The HTTP API and the recruiter page: rank a pool, re-rank as candidates are starred.

The pool is embedded once at start-up (or the pipeline's stored embeddings are loaded);
a request only encodes its query, and a small LRU cache spares even that when the
recruiter toggles a star on the same query.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Collection
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from shortlister.core.errors import DataError
from shortlister.data.clean import normalise_query
from shortlister.ranking.starred import StarError, star_indices
from shortlister.serve.about_routes import include_about
from shortlister.serve.facets import FilterError
from shortlister.serve.labels import labelled
from shortlister.serve.middleware import (
    AllowedHostsMiddleware,
    BearerAuthMiddleware,
    BodyLimitMiddleware,
    HeadMiddleware,
    SecurityHeadersMiddleware,
)
from shortlister.serve.pool_routes import install_pool_routes, upload_limits
from shortlister.serve.pool_swap import live_state
from shortlister.serve.refine import by_screening, refine
from shortlister.serve.results import ranked_items
from shortlister.serve.schemas import (
    Candidate,
    ErrorResponse,
    Health,
    LLMInfo,
    MatchInfo,
    MethodsResponse,
    RankRequest,
    RankResponse,
    Timing,
)
from shortlister.serve.schemas_results import FiltersResponse
from shortlister.serve.settings import ServeSettings
from shortlister.serve.state import ServiceState, build_state

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
# Swagger UI's script and stylesheet, served locally: /docs works offline and under the CSP.
DOCS_ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
# The API schema and its docs are not secret; the endpoints they describe still need the
# token, which Swagger UI's "Authorize" button sends.
PUBLIC_PATHS = ("/", "/health", "/favicon.ico", "/docs", "/openapi.json")
PUBLIC_PREFIXES = ("/static/", "/docs-static/")
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 422)
}


class ShortlisterAPI(FastAPI):
    """FastAPI wrapped, outside all its own layers, in the security headers, HEAD and the
    allowed-hosts check.

    Starlette keeps its ServerErrorMiddleware outside every `add_middleware` layer, so a
    header added there would be missing from a 500; wrapping the built stack covers it.
    """

    def __init__(self, *, allowed_hosts: Collection[str], **kwargs: Any) -> None:
        self.allowed_hosts = list(allowed_hosts)
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        inner = AllowedHostsMiddleware(super().build_middleware_stack(), self.allowed_hosts)
        return SecurityHeadersMiddleware(HeadMiddleware(inner))


class SafeJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped: an error that echoes a request's field (a JSON key with a
    lone surrogate, say) can always be encoded, so it is a 4xx, never a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False).encode("ascii")


class ApiError(Exception):
    """A request the client can fix: answered with `status` and {error, detail}."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def create_app(settings: ServeSettings | None = None, state: ServiceState | None = None) -> FastAPI:
    """The service over one pool; embeds it now unless a built `state` is given."""
    from shortlister.serve.shortlist_routes import include_shortlists, open_shortlists

    settings = settings or ServeSettings()
    shortlists = open_shortlists(settings)  # before the pool is embedded: a bad file fails fast
    state = live_state(state or build_state(settings))  # swappable: POST /pools/upload
    token = os.environ.get(settings.token_env) or None
    app = ShortlisterAPI(
        allowed_hosts=settings.host_allowlist(),
        title="shortlister",
        summary="Rank job candidates' headlines for a target role; re-rank on stars.",
        version="0.1.0",
        # /docs is served below from local assets; ReDoc needs a CDN and inline styles.
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = state
    _add_error_handlers(app)
    _add_routes(app, state, auth_required=token is not None)
    install_pool_routes(app, state, _rank)
    include_shortlists(app, state, shortlists)
    include_about(app, state)  # GET /about/comparison.png: the page's about view
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/docs-static", StaticFiles(directory=DOCS_ASSETS_DIR), name="docs-static")
    # Added last = outermost: auth is checked before a byte of the body is read.
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, streamed=upload_limits(settings)
    )
    app.add_middleware(
        BearerAuthMiddleware,
        token=token,
        public_paths=PUBLIC_PATHS,
        public_prefixes=PUBLIC_PREFIXES,
    )
    app.openapi = lambda: _openapi(app)
    return app


def _add_routes(app: FastAPI, state: ServiceState, *, auth_required: bool) -> None:
    settings = state.settings

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        # Swagger UI, started by static/docs.js rather than FastAPI's inline script.
        return FileResponse(STATIC_DIR / "docs.html", media_type="text/html")

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> Health:
        """Liveness, the pool's size, each method's index and whether the other endpoints
        need a bearer token (public)."""
        return Health(
            status="ok",
            n_candidates=len(state.rows),
            methods=list(state.methods),
            index={name: m.index_info() for name, m in state.methods.items()},
            auth_required=auth_required,
        )

    @app.get("/methods", response_model=MethodsResponse, responses=ERRORS, tags=["ranking"])
    def methods() -> dict[str, Any]:
        """The ranking methods served (with plain labels and what their Match score means),
        the default one, and the request limits."""
        return {
            "default": settings.method,
            "methods": [labelled(m) for m in state.methods.values()],
            "unavailable": state.unavailable,
            "star_weight": settings.star_weight,
            "limits": {
                "max_stars": settings.max_stars,
                "default_top_k": settings.default_top_k,
                "max_top_k": settings.max_top_k,
                "max_query_chars": settings.max_query_chars,
                "max_body_bytes": settings.max_body_bytes,
            },
        }

    @app.get("/filters", response_model=FiltersResponse, responses=ERRORS, tags=["ranking"])
    def filters() -> dict[str, Any]:
        """What /rank can filter by in this pool: countries with their candidate counts (the
        locations resolved as the EDA resolves them) and the screening scores' range."""
        return state.facets.summary()

    @app.get(
        "/candidates/{candidate_id}", response_model=Candidate, responses=ERRORS, tags=["ranking"]
    )
    def candidate(candidate_id: str) -> dict[str, Any]:
        """One candidate of the pool, by id."""
        if candidate_id not in state.positions:
            raise ApiError(404, "not_found", f"no candidate with id {candidate_id!r} in the pool")
        return state.rows[state.positions[candidate_id]]

    @app.post("/rank", response_model=RankResponse, responses=ERRORS, tags=["ranking"])
    def rank(request: RankRequest) -> RankResponse:
        """Rank the pool for a query; starred candidates are pinned first and steer the rest."""
        return _rank(state, request)


def _rank(state: ServiceState, req: RankRequest) -> RankResponse:
    t0 = time.perf_counter()
    settings = state.settings
    method = req.method or settings.method
    if method not in state.methods:
        raise ApiError(
            422, "unknown_method", f"unknown method {method!r}; served: {', '.join(state.methods)}"
        )
    if req.query is not None and len(req.query) > settings.max_query_chars:
        raise ApiError(
            422,
            "query_too_long",
            f"query is {len(req.query)} characters; at most {settings.max_query_chars} allowed",
        )
    top_k = req.top_k or settings.default_top_k
    if top_k > settings.max_top_k:
        raise ApiError(
            422, "top_k_too_large", f"top_k is {top_k}; at most {settings.max_top_k} allowed"
        )
    try:
        # The same normalisation as the pool's titles: "hr" is matched as "human resources".
        query = normalise_query(req.query or "", state.clean_config) or None
    except DataError as exc:
        raise ApiError(422, "invalid_query", str(exc)) from exc
    if query is None and not req.stars:
        raise ApiError(422, "empty_request", "give a non-empty query, starred ids, or both")
    ranker = state.methods[method].ranker
    try:
        # Checked before encoding, so a bad star costs no model call.
        star_indices(ranker.positions, req.stars, settings.max_stars)
    except StarError as exc:
        raise ApiError(422, "invalid_stars", str(exc)) from exc
    try:
        mask = state.facets.mask(req.countries, req.screening_min, req.screening_max)
    except FilterError as exc:
        raise ApiError(422, "invalid_filter", f"{exc.field}: {exc}") from exc
    scores, cached = (None, False) if query is None else ranker.query_scores(query)
    t1 = time.perf_counter()
    weight = settings.star_weight if req.star_weight is None else req.star_weight
    stage = state.methods[method].llm
    # Methods llm and cross-encoder: the first stage's top `depth` after the stars (of the
    # rows that pass the filters, one per headline when grouping), re-ranked.
    n_first = top_k if stage is None else max(top_k, len(req.stars) + stage.depth)
    result = refine(
        ranker, scores, req.stars, k=n_first, star_weight=weight, max_stars=settings.max_stars,
        mask=mask, facets=state.facets, group=req.group_duplicates,
    )  # fmt: skip
    t2 = time.perf_counter()
    match = None
    if query is not None:
        found = ranker.match(query)
        match = MatchInfo(
            matched=found.matched,
            best_score=found.best,
            floor=found.floor,
            notice=None if found.matched else found.notice(query, method),
        )
    order, llm = result.order, None
    if stage is not None:
        ids, titles = state.titles
        order, outcome = stage.rerank_order(
            query, order, result.n_starred, ids, titles,
            matched=match is None or match.matched, scores=result.scores,
        )  # fmt: skip
        order, llm = order[: max(top_k, result.n_starred)], LLMInfo(**outcome.as_dict())
    if req.sort == "screening":
        order = by_screening(order, result.n_starred, state.facets.screening)
    items = ranked_items(state, ranker, result, order, query, scores, weight)
    return RankResponse(
        method=method,
        query=query,
        stars=list(req.stars),
        star_weight=weight,
        top_k=top_k,
        n_candidates=len(state.rows),
        n_passing=result.n_passing,
        items=items,
        match=match,
        llm=llm,
        timing=Timing(
            query_ms=round((t1 - t0) * 1e3, 3),
            rank_ms=round((t2 - t1) * 1e3, 3),
            total_ms=round((time.perf_counter() - t0) * 1e3, 3),
            query_cached=cached,
        ),
    )


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> SafeJSONResponse:
        return SafeJSONResponse({"error": exc.error, "detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> SafeJSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            ctx = next(e for e in exc.errors() if e.get("type") == "json_invalid").get("ctx", {})
            detail = f"malformed JSON body: {ctx.get('error', 'cannot be parsed')}"
            return SafeJSONResponse({"error": "malformed_json", "detail": detail}, status_code=400)
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        return SafeJSONResponse(
            {"error": "invalid_request", "detail": detail, "errors": errors}, status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> SafeJSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return SafeJSONResponse(
            {"error": code, "detail": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "Required on every endpoint but /health, the page and these "
                "docs when the server's token environment variable (serve.token_env) is set.",
            }
        }
        schema["security"] = [{"bearer": []}, {}]
        app.openapi_schema = schema
    return app.openapi_schema


def serve(settings: ServeSettings, log_level: str = "info") -> None:
    """Embed the pool, then serve it with uvicorn until interrupted."""
    import uvicorn

    app = create_app(settings)
    logger.info(
        "serving %d candidates on http://%s:%d",
        len(app.state.service.rows),
        settings.host,
        settings.port,
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level)
