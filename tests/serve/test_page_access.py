"""The page on any screen, by keyboard and for screen readers: the score and the star in
view at 390 px, a logical tab order, Enter ranks and Space stars, visible focus; axe-core
finds no serious or critical violation in any view at either size (counts by impact in
reports/accessibility.json); a screenshot of each view (reports/screenshots/).

Debian's headless Chromium against a real uvicorn (skipped, saying why, without it).
axe-core comes bundled in the axe-playwright-python package: nothing is downloaded.
"""

from __future__ import annotations

import json
from importlib.resources import files

import pytest

from tests.serve.page_kit import (
    ROOT,
    close,
    ids,
    open_page,
    page_server,
    search,
    star,
    wait_saved,
)

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright==1.65.2)"
)
axe_package = pytest.importorskip(
    "axe_playwright_python",
    reason="axe-core is not installed (pip install axe-playwright-python==0.1.8)",
)
expect = sync_api.expect
AXE_JS = files(axe_package) / "axe.min.js"
REPORT = ROOT / "reports" / "accessibility.json"
IMPACTS = ("critical", "serious", "moderate", "minor")
BAD_UPLOAD = "id,title,location\nu1,Payroll Specialist,Oslo\nu2,,Paris\nu3,1234,Rome\n"


def _inside(box, width: int, height: int | None = None) -> bool:
    right, bottom = box["x"] + box["width"], box["y"] + box["height"]
    return box["x"] >= 0 and right <= width and (height is None or bottom <= height)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_score_and_star_are_in_view_at_any_width(page_browser, page_pool, size):
    with page_server(page_pool) as url:
        page, errors = open_page(page_browser, url, size)
        width = page.viewport_size["width"]
        search(page)
        star(page, ids(page)[2], 1)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        rows = page.locator("[data-testid=result-row]")
        for i in range(5):
            row = rows.nth(i)
            row.scroll_into_view_if_needed()
            height = page.viewport_size["height"]
            for part in ("[data-testid=score]", "[data-testid=star-toggle]", "td.location"):
                element = row.locator(part)
                expect(element).to_be_visible()
                assert _inside(element.bounding_box(), width, height), (size, i, part)
            assert _inside(row.bounding_box(), width)
        close(page, errors)


def _focus_ring(page) -> str:
    return page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return `${s.outlineStyle} ${s.outlineWidth}`; }"
    )


def _focused(page) -> str:
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return e.dataset.testid || e.id || e.tagName.toLowerCase(); }"
    )


def test_the_page_works_from_the_keyboard(page_browser, page_pool):
    with page_server(page_pool) as url:
        page, errors = open_page(page_browser, url)
        page.focus(".skip")  # the first stop, then each Tab in the page's reading order
        order = [_focused(page)]
        for _ in range(19):
            page.keyboard.press("Tab")
            order.append(_focused(page))
        assert order == [
            "a", "about-open", "shortlist-picker", "shortlist-name", "shortlist-rename",
            "shortlist-new", "query", "method", "top-k", "search", "country",
            "screening-min", "screening-max", "sort", "group", "star-weight", "summary",
            "export-ranked-csv", "export-ranked-json", "upload-file",
        ], order  # fmt: skip
        page.focus("[data-testid=query]")
        page.keyboard.type("human resources")
        page.keyboard.press("Enter")
        page.wait_for_selector("[data-testid=result-row]")
        toggle = page.locator("[data-testid=star-toggle]").nth(3)
        cid = page.locator("[data-testid=result-row]").nth(3).get_attribute("data-id")
        toggle.focus()
        assert _focus_ring(page).startswith("solid 3px")
        page.keyboard.press("Space")
        page.wait_for_selector(f"[data-testid=result-row][data-id='{cid}'][data-starred=true]")
        row = f"[data-testid=result-row][data-id='{cid}']"
        focused = page.locator(f"{row} [data-testid=star-toggle]")
        expect(focused).to_be_focused()  # the focus follows the candidate to its pinned row
        expect(focused).to_have_attribute("aria-pressed", "true")
        page.keyboard.press("Space")  # and Space again unstars
        page.wait_for_selector(f"[data-testid=result-row][data-id='{cid}'][data-starred=false]")
        wait_saved(page)
        close(page, errors)


def _axe(page) -> dict:
    """axe-core's violations on the page now: {impact: count} and the rules broken."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated, not a <script>: the page's CSP (script-src 'self') stays in force.
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    found = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return {version: r.testEngine.version, violations: r.violations.map(v =>"
        " ({id: v.id, impact: v.impact, nodes: v.nodes.length,"
        " targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))}; }"
    )
    counts = dict.fromkeys(IMPACTS, 0)
    for v in found["violations"]:
        counts[v["impact"] or "minor"] += v["nodes"]
    return {"version": found["version"], "counts": counts, "violations": found["violations"]}


def _views(page):
    """Yields (view name, page showing it): the ranked list with a shortlist, an upload's
    rejected rows, the about view."""
    search(page)
    first = ids(page)[1]
    star(page, first, 1)
    star(page, ids(page)[4], 2)
    page.locator(f"[data-testid=star-note][data-id='{first}']").fill("Call back on Monday")
    page.keyboard.press("Tab")
    wait_saved(page)
    page.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, 0); }")
    yield "shortlist", page
    page.evaluate("() => document.getElementById('results-heading').scrollIntoView()")
    yield "results", page
    page.set_input_files(
        "[data-testid=upload-file]",
        {"name": "bad.csv", "mimeType": "text/csv", "buffer": BAD_UPLOAD.encode()},
    )
    page.check("[data-testid=upload-join]")
    page.click("[data-testid=upload-submit]")
    expect(page.locator("[data-testid=reject-row]")).to_have_count(2)
    page.locator("[data-testid=upload-result]").scroll_into_view_if_needed()
    yield "upload", page
    page.click("[data-testid=about-open]")
    expect(page.locator("[data-testid=about-figure]")).to_be_visible()
    yield "about", page
    page.keyboard.press("Escape")
    expect(page.locator("[data-testid=about]")).to_be_hidden()
    expect(page.locator("[data-testid=about-open]")).to_be_focused()


def test_no_serious_accessibility_violation_in_any_view(page_browser, page_pool):
    from tests.serve.page_kit import shot

    report: dict = {"axe_version": None, "views": {}, "totals": dict.fromkeys(IMPACTS, 0)}
    for size in ("desktop", "phone"):
        with page_server(page_pool) as url:
            page, errors = open_page(page_browser, url, size)
            report["views"][f"{size}-start"] = _axe(page)
            for view, shown in _views(page):
                name = f"{size}-{view}"
                report["views"][name] = _axe(shown)
                path = shot(shown, name)
                assert path.stat().st_size < 200_000, (name, path.stat().st_size)
            close(page, errors)
    for found in report["views"].values():
        report["axe_version"] = found.pop("version")
        for impact, n in found["counts"].items():
            report["totals"][impact] += n
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    bad = {
        name: [v for v in found["violations"] if v["impact"] in ("serious", "critical")]
        for name, found in report["views"].items()
    }
    assert not any(bad.values()), json.dumps(bad, indent=1)
    assert report["totals"]["serious"] == report["totals"]["critical"] == 0


def test_the_about_view_shows_the_served_methods_figure(page_browser, page_pool):
    with page_server(page_pool) as url:
        page, errors = open_page(page_browser, url, "phone")
        page.click("[data-testid=about-open]")
        figure = page.locator("[data-testid=about-figure]")
        expect(figure).to_be_visible()
        assert figure.get_attribute("src").startswith("data:image/png;base64,")
        assert "keywords (tfidf)" in figure.get_attribute("alt")
        assert figure.evaluate("img => img.naturalWidth") > 100
        box = figure.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        expect(page.locator("[data-testid=about-methods]")).to_contain_text("keywords (tfidf)")
        page.click("[data-testid=about-close]")
        expect(page.locator("[data-testid=about]")).to_be_hidden()
        close(page, errors)
