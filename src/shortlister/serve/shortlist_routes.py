"""The saved-shortlist endpoints: create, list, open, rename, star with a note, unstar,
delete and export (CSV or JSON). Each change is saved at once (shortlists.store).

`create_app` opens the store before it embeds the pool (`open_shortlists`), so a
database that cannot be used stops the start-up in seconds, then adds these routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Response
from sqlalchemy.exc import OperationalError

from shortlister.serve.app import ERRORS, ApiError, SafeJSONResponse
from shortlister.serve.schemas import ErrorResponse
from shortlister.serve.schemas_shortlists import (
    Shortlist,
    ShortlistCreate,
    ShortlistExport,
    ShortlistList,
    ShortlistPatch,
    StarNote,
)
from shortlister.serve.settings import ServeSettings
from shortlister.serve.shortlists import (
    ShortlistNotFound,
    ShortlistRecord,
    ShortlistStore,
    TooManyStars,
    database_url,
)
from shortlister.serve.shortlists.export import export_csv, export_json
from shortlister.serve.state import ServiceState

RESPONSES: dict[int | str, dict[str, Any]] = {**ERRORS, 503: {"model": ErrorResponse}}


def open_shortlists(settings: ServeSettings) -> ShortlistStore:
    """The store at serve.db (SHORTLISTER_DB overrides it); ShortlistStoreError if unusable."""
    return ShortlistStore.open(database_url(settings.db), max_stars=settings.max_stars)


def include_shortlists(app: FastAPI, state: ServiceState, store: ShortlistStore) -> None:
    app.state.shortlists = store
    app.include_router(_router(state, store))


def _router(state: ServiceState, store: ShortlistStore) -> APIRouter:
    router = APIRouter(prefix="/shortlists", tags=["shortlists"], responses=RESPONSES)

    @router.post("", response_model=Shortlist, status_code=201)
    def create(body: ShortlistCreate) -> dict[str, Any]:
        """Save a new shortlist: its name, role query, method and starred candidates."""
        _check_query_method(state, body.query, body.method)
        ids = [s.id for s in body.stars]
        if len(set(ids)) != len(ids):
            raise ApiError(422, "invalid_stars", "starred candidate ids must be distinct")
        for cid in ids:
            _check_candidate(state, cid)
        with _database():
            record = store.create(
                body.name, query=body.query, method=body.method,
                stars=[(s.id, s.note) for s in body.stars],
            )  # fmt: skip
        return _out(record)

    @router.get("", response_model=ShortlistList)
    def list_all() -> dict[str, Any]:
        """Every saved shortlist (without its stars), last changed first."""
        with _database():
            records = store.list()
        return {"items": [_out(r, with_stars=False) for r in records]}

    @router.get("/{shortlist_id}", response_model=Shortlist)
    def open_one(shortlist_id: int) -> dict[str, Any]:
        """One shortlist with its starred candidates and their notes."""
        with _database():
            return _out(store.get(shortlist_id))

    @router.patch("/{shortlist_id}", response_model=Shortlist)
    def update(shortlist_id: int, body: ShortlistPatch) -> dict[str, Any]:
        """Rename a shortlist, or change its role query or method (null clears those)."""
        changes = {f: getattr(body, f) for f in body.model_fields_set}
        if "name" in changes and changes["name"] is None:
            raise ApiError(422, "invalid_request", "name: a shortlist needs a name")
        _check_query_method(state, changes.get("query"), changes.get("method"))
        with _database():
            return _out(store.update(shortlist_id, **changes))

    @router.put("/{shortlist_id}/stars/{candidate_id}", response_model=Shortlist)
    def star(shortlist_id: int, candidate_id: str, body: StarNote | None = None) -> Any:
        """Star a candidate of the pool with a note, or edit the note of a starred one
        (at most max_stars a shortlist)."""
        _check_candidate(state, candidate_id)
        with _database():
            return _out(store.star(shortlist_id, candidate_id, body.note if body else ""))

    @router.delete("/{shortlist_id}/stars/{candidate_id}", response_model=Shortlist)
    def unstar(shortlist_id: int, candidate_id: str) -> dict[str, Any]:
        """Unstar a candidate (no error when it was not starred)."""
        with _database():
            return _out(store.unstar(shortlist_id, candidate_id))

    @router.delete("/{shortlist_id}", status_code=204)
    def delete(shortlist_id: int) -> Response:
        """Delete a shortlist and its stars."""
        with _database():
            store.delete(shortlist_id)
        return Response(status_code=204)

    @router.get(
        "/{shortlist_id}/export",
        response_model=ShortlistExport,
        responses={200: {"content": {"text/csv": {}}}},
    )
    def export(
        shortlist_id: int, kind: Annotated[Literal["csv", "json"], Query(alias="format")] = "csv"
    ) -> Response:
        """Download a shortlist: a spreadsheet-safe CSV (text that would run as a formula
        gets a leading apostrophe) or JSON, with the pool's fields of each candidate."""
        with _database():
            record = store.get(shortlist_id)
        lookup = _candidate_lookup(state)
        filename = f"shortlist-{record.id}.{kind}"
        headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
        if kind == "json":
            return SafeJSONResponse(export_json(record, lookup), headers=headers)
        body = export_csv(record, lookup)
        return Response(body, media_type="text/csv; charset=utf-8", headers=headers)

    return router


@contextmanager
def _database() -> Iterator[None]:
    """The store's errors as API errors."""
    try:
        yield
    except ShortlistNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    except TooManyStars as exc:
        raise ApiError(422, "too_many_stars", str(exc)) from exc
    except OperationalError as exc:
        # A lock held past the busy timeout, a full disk: worth retrying later.
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
        raise ApiError(503, "database_unavailable", f"shortlists database: {reason}") from exc


def _check_query_method(state: ServiceState, query: str | None, method: str | None) -> None:
    limit = state.settings.max_query_chars
    if query is not None and len(query) > limit:
        raise ApiError(
            422, "query_too_long", f"query is {len(query)} characters; at most {limit} allowed"
        )
    if method is not None and method not in state.methods:
        raise ApiError(
            422, "unknown_method", f"unknown method {method!r}; served: {', '.join(state.methods)}"
        )


def _check_candidate(state: ServiceState, candidate_id: str) -> None:
    if candidate_id not in state.positions:
        raise ApiError(404, "not_found", f"no candidate with id {candidate_id!r} in the pool")


def _candidate_lookup(state: ServiceState) -> Callable[[str], dict[str, Any] | None]:
    def lookup(candidate_id: str) -> dict[str, Any] | None:
        position = state.positions.get(candidate_id)
        return None if position is None else state.rows[position]

    return lookup


def _out(record: ShortlistRecord, *, with_stars: bool = True) -> dict[str, Any]:
    out = {
        "id": record.id,
        "name": record.name,
        "query": record.query,
        "method": record.method,
        "n_stars": record.n_stars,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }
    if with_stars:
        out["stars"] = [
            {"id": s.candidate_id, "note": s.note, "starred_at": s.starred_at} for s in record.stars
        ]
    return out
