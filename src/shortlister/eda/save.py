"""Writing the figures: matplotlib as PNG; plotly as an offline HTML page and, via
kaleido, a PNG that is skipped (with a reason) rather than failing the report."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from matplotlib.figure import Figure

from shortlister.core.errors import ConfigError

logger = logging.getLogger(__name__)


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 110) -> Path:
    """Write a matplotlib figure as PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    return path


def _topojson_name(fig: go.Figure) -> str:
    # plotly.js names its outline files <scope>_<resolution>m, e.g. world_110m.
    scope = (fig.layout.geo.scope or "world").replace(" ", "-")
    return f"{scope}_{int(fig.layout.geo.resolution or 110)}m"


def _geo_assets_js(topojson: str | Path, name: str) -> str:
    """A script that hands plotly.js the outlines in `topojson`, so it fetches nothing."""
    path = Path(topojson)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"eda.topojson: cannot read {path} as JSON ({exc})") from exc
    if not (isinstance(data, dict) and "countries" in data.get("objects", {})):
        raise ConfigError(
            f"eda.topojson: {path} is not a plotly world topojson; expected a Topology with "
            "a 'countries' object (plotly's world_110m.json)"
        )
    return (
        "window.PlotlyGeoAssets = window.PlotlyGeoAssets || {topojson: {}};\n"
        f"window.PlotlyGeoAssets.topojson[{json.dumps(name)}] = {json.dumps(data)};\n"
    )


def _write_html(fig: go.Figure, path: Path, topojson: str | None) -> None:
    if topojson is None or _is_url(topojson):
        config = {"topojsonURL": topojson} if topojson else None
        fig.write_html(path, include_plotlyjs=True, full_html=True, config=config)
        return
    from plotly.offline import get_plotlyjs

    # Outlines inlined after plotly.js and before the plot: the page needs no network.
    page = (
        '<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8" /></head>\n<body>\n'
        f"<script>{get_plotlyjs()}</script>\n"
        f"<script>{_geo_assets_js(topojson, _topojson_name(fig))}</script>\n"
        f"{fig.to_html(include_plotlyjs=False, full_html=False)}\n</body>\n</html>\n"
    )
    path.write_text(page, encoding="utf-8")


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _quiet_kaleido() -> None:
    # kaleido and its browser driver log every tab and temp folder at INFO, which buries
    # the stage's own lines; an explicit level set by the user is left alone.
    for name in ("kaleido", "choreographer", "logistro"):
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.WARNING)


def _write_png(fig: go.Figure, path: Path, topojson: str | None, opts: dict[str, Any]) -> None:
    import kaleido

    _quiet_kaleido()
    with tempfile.TemporaryDirectory(prefix="shortlister-kaleido-") as tmp:
        others = None
        if topojson is not None and not _is_url(topojson):
            script = Path(tmp) / "geo_assets.js"
            script.write_text(_geo_assets_js(topojson, _topojson_name(fig)), encoding="utf-8")
            others = [script.as_uri()]
        # No MathJax: the figures have no LaTeX, and its default comes from a CDN.
        page = kaleido.PageGenerator(mathjax=False, others=others)
        png = kaleido.calc_fig_sync(
            fig,
            opts={"format": "png", **opts},
            topojson=topojson if topojson is not None and _is_url(topojson) else None,
            kopts={"page_generator": page, "timeout": 90},
        )
    path.write_bytes(png)


def _explain(exc: Exception) -> tuple[str, str]:
    """(why the PNG failed, how to fix it) for a kaleido exception."""
    message = " ".join(str(exc).split())[:300] or type(exc).__name__
    if type(exc).__name__ in ("ChromeNotFoundError", "BrowserFailedError", "BrowserDepsError"):
        return (
            f"kaleido found no working Chrome/Chromium ({type(exc).__name__}: {message})",
            "install one (`apt-get install chromium`, or `plotly_get_chrome`) or point "
            "BROWSER_PATH at it",
        )
    if "topojson" in message:
        return (
            f"the map outlines could not be fetched ({message})",
            "plotly loads them from its CDN; run with network access or set eda.topojson "
            "to a local copy of plotly's world_110m.json",
        )
    return (
        f"{type(exc).__name__}: {message}",
        "check that kaleido can start Chrome/Chromium (`plotly_get_chrome` installs one)",
    )


def save_plotly(
    fig: go.Figure,
    html_path: str | Path,
    png_path: str | Path,
    *,
    topojson: str | None = None,
    width: int = 1100,
    height: int = 620,
    scale: float = 2.0,
) -> dict[str, str]:
    """Write `fig` as an HTML page with plotly.js inlined and, via kaleido, a PNG.

    A map's country outlines are not part of plotly.js: without `topojson` (see
    `EdaConfig.topojson`) the page and kaleido load them from plotly's CDN; with a local
    file they are inlined too, and both render offline.

    Returns ``{"html": path, "png": path}``. When kaleido fails (no browser, no network
    for the map outlines, ...) the PNG is skipped, not fatal: ``"png"`` is
    ``"skipped: <why>"``, a warning says how to fix it, and a stale PNG from an earlier
    run is removed.
    """
    html_path, png_path = Path(html_path), Path(png_path)
    for path in (html_path, png_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    _write_html(fig, html_path, topojson)
    result = {"html": str(html_path)}
    try:
        _write_png(fig, png_path, topojson, {"width": width, "height": height, "scale": scale})
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - a missing PNG must never fail the report
        reason, fix = _explain(exc)
        logger.warning(
            "%s not written (%s is): %s. To fix: %s", png_path, html_path.name, reason, fix
        )
        png_path.unlink(missing_ok=True)
        result["png"] = f"skipped: {reason}"
    else:
        result["png"] = str(png_path)
    return result
