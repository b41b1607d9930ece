"""Pool endpoints: upload a candidate file (replacing or joining the served pool), download
its rejected rows, and export a ranking as a spreadsheet-safe CSV or as JSON."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from shortlister.core.errors import DataError
from shortlister.core.outputs import people_csv
from shortlister.data import schema
from shortlister.serve.pool_swap import LiveState, PinStateMiddleware, rebuild_state
from shortlister.serve.pool_upload import (
    UPLOAD_CHUNK,
    RejectStore,
    SpooledUpload,
    Upload,
    UploadError,
    display_name,
    file_suffix,
    read_upload,
    validate,
)
from shortlister.serve.schemas import ErrorResponse, RankRequest, RankResponse
from shortlister.serve.schemas_pools import PoolInfo, UploadRefused, UploadResponse
from shortlister.serve.settings import ServeSettings
from shortlister.serve.state import ServiceState

logger = logging.getLogger(__name__)

UPLOAD_PATH = "/pools/upload"
MAX_LISTED_REJECTS = 100  # in the upload's response; the rejects file has them all
EXPORT_COLUMNS = ("rank", "id", "title", "location", "screening_score", "score", "starred")
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 422)
}

Ranker = Callable[[ServiceState, RankRequest], RankResponse]


def upload_limits(settings: ServeSettings) -> dict[str, tuple[int, str]]:
    """BodyLimitMiddleware's `streamed`: the upload's own limit, counted as it arrives."""
    return {UPLOAD_PATH: (settings.max_upload_bytes, "serve.max_upload_bytes")}


def install_pool_routes(app: FastAPI, state: ServiceState, rank: Ranker) -> None:
    """Add the pool endpoints over `state` (a LiveState: see live_state); `rank` is the
    app's /rank, which the export calls."""
    live = state
    assert isinstance(live, LiveState), "create_app serves a LiveState (pool_swap.live_state)"
    app.include_router(_router(live, RejectStore(), rank))
    app.add_exception_handler(UploadError, _upload_error)
    app.add_middleware(PinStateMiddleware, live=live)


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # ASCII-escaped: a file name with a lone surrogate still encodes (a 4xx, never a 500).
    body = json.dumps(content, ensure_ascii=True, allow_nan=False)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


async def _upload_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, UploadError)
    return _json({"error": exc.error, "detail": exc.detail}, exc.status)


def _router(live: LiveState, rejects: RejectStore, rank: Ranker) -> APIRouter:
    router = APIRouter()
    settings = live.settings

    @router.get("/pools/current", response_model=PoolInfo, responses=ERRORS, tags=["pools"])
    def current() -> dict[str, Any]:
        """The served pool and what an upload may be."""
        return {
            "pool_source": live.pool_source,
            "n_candidates": len(live.rows),
            "max_upload_bytes": settings.max_upload_bytes,
            "extensions": list(schema.SUPPORTED_EXTENSIONS),
            "modes": ["replace", "join"],
        }

    @router.post(
        UPLOAD_PATH,
        response_model=UploadResponse,
        responses={**ERRORS, 422: {"model": UploadRefused}},
        tags=["pools"],
    )
    async def upload(
        file: Annotated[UploadFile, File(description="Candidates: .csv, .tsv or .parquet.")],
        mode: Annotated[
            Literal["replace", "join"],
            Form(description="replace: the file becomes the pool; join: its rows are added."),
        ],
    ) -> Any:
        """Validate a candidate file as the CLI does (rejected rows listed with their
        reasons), then serve its accepted rows: instead of the pool, or added to it (an id
        already served is rejected, never overwritten). Every method is rebuilt for the new
        pool; requests in flight finish on the old one."""
        t0 = time.perf_counter()
        name = display_name(file.filename)
        frame = await _read(file, name)
        t1 = time.perf_counter()
        found, new, (t2, t3) = await run_in_threadpool(_apply, live, frame, name, mode)
        upload_id = await run_in_threadpool(rejects.add, found)
        body = {
            "upload_id": upload_id,
            "file_name": name,
            "rejected": len(found.rejects),
            "rejects": found.reject_records(MAX_LISTED_REJECTS),
            "rejects_url": f"{UPLOAD_PATH}/{upload_id}/rejects.csv",
        }
        if new is None:
            detail = (
                f"{name}: no row accepted ({len(found.rejects)} rejected, reasons in "
                "rejects); the served pool is unchanged"
            )
            return _json({"error": "no_candidates", "detail": detail, **body}, 422)
        logger.info(
            "%s (%s): %d accepted, %d rejected; serving %d candidates (%.2fs)",
            name, mode, len(found.clean), len(found.rejects), len(new.rows), t3 - t0,
        )  # fmt: skip
        return {
            **body,
            "mode": mode,
            "n_rows": found.n_rows,
            "accepted": len(found.clean),
            "rejects_truncated": len(found.rejects) > len(body["rejects"]),
            "warnings": found.n_warnings,
            "n_candidates": len(new.rows),
            "pool_source": new.pool_source,
            "methods": list(new.methods),
            "unavailable": new.unavailable,
            "seconds": round(t3 - t0, 3),
            "timing": {
                "read_s": round(t1 - t0, 3),
                "validate_s": round(t2 - t1, 3),
                "rebuild_s": round(t3 - t2, 3),
                "methods_s": {n: round(m.load_seconds, 3) for n, m in new.methods.items()},
            },
        }

    @router.get(
        UPLOAD_PATH + "/{upload_id}/rejects.csv",
        response_class=Response,
        responses={**ERRORS, 200: {"content": {"text/csv": {}}}},
        tags=["pools"],
    )
    def rejects_file(upload_id: str) -> Response:
        """An upload's rejected rows as the CLI's rejects file: the rows as written plus
        `reason`, spreadsheet-safe (formula-like cells start with an apostrophe)."""
        found = rejects.get(upload_id)
        if found is None:
            raise UploadError(
                404, "not_found", f"no rejects for upload {upload_id!r} (unknown or expired)"
            )
        name, text = found
        stem = _slug(name.rsplit(".", 1)[0]) or "upload"
        return _download(text, "text/csv; charset=utf-8", f"{stem}.rejects.csv")

    @router.post(
        "/rank/export",
        response_class=Response,
        responses={
            **ERRORS,
            200: {"content": {"text/csv": {}, "application/json": {}}},
        },
        tags=["ranking"],
    )
    def export(
        request: RankRequest,
        fmt: Annotated[Literal["csv", "json"], Query(alias="format")] = "csv",
        scope: Annotated[
            Literal["ranked", "shortlist"],
            Query(description="ranked: the whole list /rank returns; shortlist: starred only."),
        ] = "ranked",
    ) -> Response:
        """The ranking /rank returns for this body, as a download: CSV (rank, id, title,
        location, screening_score, score, starred; spreadsheet-safe) or JSON (the items)."""
        response = rank(live, request)
        items = [i for i in response.items if scope == "ranked" or i.starred]
        stem = "-".join(p for p in (scope, _slug(response.query or "")) if p)
        if fmt == "json":
            body = json.dumps([i.model_dump(mode="json") for i in items], ensure_ascii=True)
            return _download(body, "application/json", f"{stem}.json")
        frame = pd.DataFrame(
            [{c: getattr(i, c) for c in EXPORT_COLUMNS} for i in items], columns=EXPORT_COLUMNS
        )
        return _download(people_csv(frame), "text/csv; charset=utf-8", f"{stem}.csv")

    return router


async def _read(file: UploadFile, name: str) -> pd.DataFrame:
    """The upload spooled under its extension (or its content's), read by the CLI's loader."""
    spool = SpooledUpload(name)
    try:
        head = await file.read(8)
        with spool.open(file_suffix(name, head)) as out:
            chunk = head
            while chunk:
                out.write(chunk)
                chunk = await file.read(UPLOAD_CHUNK)
        return await run_in_threadpool(read_upload, spool.path, name)
    finally:
        spool.close()


def _apply(
    live: LiveState, frame: pd.DataFrame, name: str, mode: str
) -> tuple[Upload, ServiceState | None, tuple[float, float]]:
    """Validate against the served pool and swap in the new one, all under the swap lock
    (a join must check its ids against the pool it joins)."""
    with live.swap_lock:
        old = live.served
        try:
            found = validate(
                frame, name, old.clean_config, old.positions.keys() if mode == "join" else ()
            )
        except DataError as exc:
            raise UploadError(422, "invalid_file", f"{name}: {exc}") from exc
        t_validated = time.perf_counter()
        if found.clean.empty:
            return found, None, (t_validated, t_validated)
        if mode == "join":
            pool = pd.concat([old.pool, found.clean], ignore_index=True)
            source, n_kept = f"{old.pool_source} + upload:{name}", len(old.pool)
        else:
            pool, source, n_kept = found.clean, f"upload:{name}", 0
        try:
            new = rebuild_state(old, pool, source, n_kept=n_kept)
        except DataError as exc:
            raise UploadError(422, "no_method", f"{name}: {exc}") from exc
        live.swap(new)
        return found, new, (t_validated, time.perf_counter())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def _download(body: str, media_type: str, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type=media_type, headers=headers)
