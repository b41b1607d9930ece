"""The recruiter page end to end: a real uvicorn server and Debian's headless Chromium."""

from __future__ import annotations

import pytest

from shortlister.serve.app import create_app
from shortlister.serve.settings import ServeSettings
from shortlister.serve.state import build_state
from tests.serve.helpers import running_server, tfidf_settings
from tests.serve.page_kit import CHROMIUM, CHROMIUM_ARGS

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright==1.65.2)"
)
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} not found (apt-get install chromium)"
)

QUERY = "engineer"  # many matches in the small generated pool


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def tfidf_url(small_pool_csv, tmp_path_factory):
    # Module-scoped, so set up before the per-test SHORTLISTER_DB: its own database file.
    db = tmp_path_factory.mktemp("web-db") / "shortlists.db"
    settings = tfidf_settings(small_pool_csv, db=str(db))
    with running_server(create_app(settings, state=build_state(settings))) as url:
        yield url


def _open(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 960})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))
    page.goto(url)
    return page, errors


def _ids(page) -> list[str]:
    return page.locator("[data-testid=result-row]").evaluate_all(
        "rows => rows.map(r => r.dataset.id)"
    )


def _starred(page) -> list[str]:
    return page.locator("[data-testid=result-row][data-starred=true]").evaluate_all(
        "rows => rows.map(r => r.dataset.id)"
    )


def _search(page, query: str) -> list[str]:
    page.fill("[data-testid=query]", query)
    page.press("[data-testid=query]", "Enter")
    page.wait_for_selector("[data-testid=result-row]")
    page.wait_for_function("() => !document.body.classList.contains('busy')")
    return _ids(page)


def _star_row(page, position: int, n_starred_after: int) -> str:
    row = page.locator("[data-testid=result-row]").nth(position)
    cid = row.get_attribute("data-id")
    row.locator("[data-testid=star-toggle]").click()
    page.wait_for_function(
        f"() => document.querySelectorAll('[data-testid=result-row][data-starred=true]').length"
        f" === {n_starred_after}"
    )
    return cid


def test_star_two_candidates_reranks_pins_and_clears(browser, tfidf_url):
    page, errors = _open(browser, tfidf_url)
    sync_api.expect(page.locator("[data-testid=method] option")).to_have_text(["keywords"])
    sync_api.expect(page.locator("[data-testid=token]")).to_be_hidden()

    before = _search(page, QUERY)
    assert len(before) == 20 and not _starred(page)
    assert page.locator("[data-testid=clear-stars]").is_disabled()

    first = _star_row(page, 3, 1)
    second = _star_row(page, 9, 2)
    after = _ids(page)
    assert after[:2] == [first, second]  # pinned on top, in star order
    assert _starred(page) == [first, second]
    assert page.locator("[data-testid=pinned]").count() == 2
    pressed = page.locator("[data-testid=star-toggle][aria-pressed=true]")
    assert pressed.count() == 2
    assert after != before
    rest_before = [c for c in before if c not in (first, second)]
    assert after[2:] != rest_before[:18]  # the others were re-ranked, not just shifted
    sync_api.expect(page.locator("[data-testid=star-count]")).to_have_text("2 of 5 starred")
    assert page.locator("[data-testid=star-chip]").count() == 2
    sync_api.expect(page.locator("[data-testid=timing]")).to_contain_text("query vector cached")

    page.click("[data-testid=clear-stars]")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=result-row][data-starred=true]')"
        ".length === 0"
    )
    page.wait_for_function("() => !document.body.classList.contains('busy')")
    assert _ids(page) == before
    assert page.locator("[data-testid=star-chip]").count() == 0
    assert page.locator("[data-testid=clear-stars]").is_disabled()
    assert not errors, errors
    page.close()


def test_unstarring_from_the_row_and_an_error_is_shown(browser, tfidf_url):
    page, errors = _open(browser, tfidf_url)
    before = _search(page, QUERY)
    starred = _star_row(page, 2, 1)
    page.locator(f"[data-testid=result-row][data-id='{starred}'] [data-testid=star-toggle]").click()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=result-row][data-starred=true]')"
        ".length === 0"
    )
    page.wait_for_function("() => !document.body.classList.contains('busy')")
    assert _ids(page) == before
    # A request the server refuses shows its reason instead of a silent failure.
    page.evaluate(
        "document.getElementById('top-k')"
        ".insertAdjacentHTML('beforeend', '<option value=5000>5000</option>')"
    )
    page.select_option("[data-testid=top-k]", "5000")
    sync_api.expect(page.locator("[data-testid=error]")).to_contain_text("at most 200")
    assert not errors, errors
    page.close()


def test_token_input_appears_when_the_server_needs_one(browser, small_pool_csv, monkeypatch):
    monkeypatch.setenv("SHORTLISTER_API_TOKEN", "page-token")
    settings = tfidf_settings(small_pool_csv)
    with running_server(create_app(settings, state=build_state(settings))) as url:
        page, _ = _open(browser, url)
        sync_api.expect(page.locator("[data-testid=token]")).to_be_visible()
        sync_api.expect(page.locator("[data-testid=error]")).to_contain_text("API token")
        page.fill("[data-testid=token]", "page-token")
        page.press("[data-testid=token]", "Enter")
        page.locator("[data-testid=token]").dispatch_event("change")
        sync_api.expect(page.locator("[data-testid=method] option")).to_have_text(["keywords"])
        assert len(_search(page, QUERY)) == 20
        page.close()


def test_sbert_page_reranks_on_a_star(browser, small_pool_csv):
    settings = ServeSettings(candidates=str(small_pool_csv), methods=["sbert", "tfidf"])
    with running_server(create_app(settings)) as url:
        page, errors = _open(browser, url)
        sync_api.expect(page.locator("[data-testid=method] option")).to_have_text(
            ["meaning", "keywords"]
        )
        before = _search(page, QUERY)
        starred = _star_row(page, 4, 1)
        after = _ids(page)
        assert after[0] == starred and after != before
        page.select_option("[data-testid=method]", "tfidf")
        page.wait_for_function(
            "() => document.getElementById('timing').textContent.startsWith('tfidf')"
        )
        assert _ids(page)[0] == starred  # stars survive a method switch
        assert not errors, errors
        page.close()


def test_no_match_shows_a_notice_not_zeros(browser, tfidf_url):
    page, errors = _open(browser, tfidf_url)
    _search(page, QUERY)
    page.fill("[data-testid=query]", "zzqxj")
    page.press("[data-testid=query]", "Enter")
    page.wait_for_selector("[data-testid=empty][data-state=no-match]")
    assert page.locator("[data-testid=result-row]").count() == 0
    notice = page.text_content("[data-testid=empty]")
    assert "No candidate matches “zzqxj” with keywords" in notice
    assert _search(page, QUERY)  # a real role brings the list back
    assert page.get_attribute("[data-testid=empty]", "data-state") == "empty"
    assert errors == []
    page.close()


def test_llm_page_says_whether_the_llm_reranked(browser, small_pool_csv, tiny_llm, tmp_path):
    from tests.serve.test_serve_llm import llm_settings

    settings = llm_settings(small_pool_csv, tiny_llm)
    settings.method = "llm"
    with running_server(create_app(settings)) as url:
        page, errors = _open(browser, url)
        sync_api.expect(page.locator("[data-testid=method] option")).to_have_text(
            ["keywords", "AI re-read (Gemma) over keywords"]
        )
        assert page.input_value("[data-testid=method]") == "llm"
        _search(page, QUERY)
        status = page.locator("[data-testid=llm-status]")
        sync_api.expect(status).to_have_attribute("data-status", "reranked")
        sync_api.expect(status).to_contain_text("Re-ranked by gemma3 in")
        assert status.get_attribute("role") == "status"
        page.select_option("[data-testid=method]", "tfidf")
        page.wait_for_function(
            "() => document.getElementById('timing').textContent.startsWith('tfidf')"
        )
        sync_api.expect(status).to_be_hidden()
        assert not errors, errors
        page.close()
    settings = llm_settings(small_pool_csv, tiny_llm, serve_timeout_s=1e-4)
    settings.method = "llm"
    with running_server(create_app(settings)) as url:
        page, errors = _open(browser, url)
        _search(page, QUERY)
        status = page.locator("[data-testid=llm-status]")
        sync_api.expect(status).to_have_attribute("data-status", "timeout")
        sync_api.expect(status).to_contain_text(
            "LLM timed out after 0.0001 s: showing the tfidf order"
        )
        assert not errors, errors
        page.close()
    # A model that is not there: method llm listed, disabled, with the reason as its title.
    settings = llm_settings(small_pool_csv, tmp_path / "no-such-model")
    with running_server(create_app(settings)) as url:
        page, errors = _open(browser, url)
        unavailable = page.locator("[data-testid=method] option[disabled]")
        sync_api.expect(unavailable).to_have_text(["llm (unavailable)"])
        assert "model not available" in unavailable.get_attribute("title")
        assert not errors, errors
        page.close()
