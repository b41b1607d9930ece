"""The page's "about" view: how the served methods compare on the benchmarks.

GET /about/comparison.png draws the evaluate stage's comparison figure
(`evaluation.figures.comparison_png` over <paths.reports>/plots/comparison.csv) for the
methods this service serves (for llm and cross-encoder, their first stage's row too). It
is drawn once per set of methods and version of the table, then kept.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Response

from shortlister.serve.schemas import ErrorResponse
from shortlister.serve.state import ServiceState

COMPARISON_TABLE = Path("plots") / "comparison.csv"  # under paths.reports, as evaluate writes it


class AboutUnavailable(Exception):
    """The figure cannot be drawn here (no reports yet, no served method in them)."""


def include_about(app: FastAPI, state: ServiceState) -> None:
    """Add GET /about/comparison.png over the served methods of `state` (a LiveState)."""
    from shortlister.serve.app import ApiError  # app imports this module: import at call

    figures = ComparisonFigures()

    router = APIRouter(tags=["service"])

    @router.get(
        "/about/comparison.png",
        response_class=Response,
        responses={
            200: {"content": {"image/png": {}}},
            404: {"model": ErrorResponse, "description": "No comparison table to draw."},
        },
    )
    def comparison() -> Response:
        """The benchmarks' comparison figure (MAP on each benchmark's test queries) of the
        served methods, as a PNG; 404 until the pipeline's evaluate stage has run."""
        try:
            png = figures.png(comparison_table(state), served_methods(state))
        except AboutUnavailable as exc:
            raise ApiError(404, "not_found", str(exc)) from exc
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-cache"})

    app.include_router(router)


def comparison_table(state: ServiceState) -> Path:
    return Path(state.settings.paths.get("reports", "reports")) / COMPARISON_TABLE


def served_methods(state: ServiceState) -> list[str]:
    """The served methods and, for a second stage, the first stage it re-orders."""
    names: list[str] = []
    for name, method in state.methods.items():
        first = getattr(method.llm, "first_stage", None)
        names += [name] if first is None else [name, str(first)]
    return list(dict.fromkeys(names))


class ComparisonFigures:
    """PNGs by (table file version, methods): matplotlib draws each once (~1 s)."""

    def __init__(self, keep: int = 8) -> None:
        self._lock = threading.Lock()
        self._pngs: dict[tuple[Any, ...], bytes] = {}
        self._keep = keep

    def png(self, path: Path, methods: Sequence[str]) -> bytes:
        from shortlister.evaluation.figures import comparison_png, load_comparison_table

        try:
            stat = path.stat()
        except OSError as exc:
            raise AboutUnavailable(
                f"no comparison of the methods yet: {path} is missing "
                f"({exc.strerror}); run the pipeline's evaluate stage (dvc repro evaluate)"
            ) from exc
        key = (str(path), stat.st_mtime_ns, stat.st_size, tuple(methods))
        with self._lock:  # one drawing at a time: matplotlib figures are not cheap
            if key not in self._pngs:
                try:
                    table = load_comparison_table(path)
                    shown = [m for m in methods if m in set(table["method"])]
                    png = comparison_png(table, methods=shown) if shown else None
                except (KeyError, ValueError) as exc:  # pandas' parse errors are ValueErrors
                    raise AboutUnavailable(
                        f"cannot draw the comparison from {path}: {exc}; expected the "
                        "evaluate stage's table (dataset, method, map, ...)"
                    ) from exc
                if png is None:
                    raise AboutUnavailable(
                        f"{path} compares {', '.join(sorted(map(str, set(table['method']))))}; "
                        f"none of the served methods ({', '.join(methods)}) is among them"
                    )
                if len(self._pngs) >= self._keep:
                    self._pngs.pop(next(iter(self._pngs)))
                self._pngs[key] = png
            return self._pngs[key]
