"""The page keeps a saved shortlist: stars and notes survive a reload and a restart of the
service; the picker opens, renames, starts and deletes shortlists; exports read back.

Debian's headless Chromium against a real uvicorn (skipped, saying why, without it).
"""

from __future__ import annotations

import csv
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.serve.page_kit import (
    QUERY,
    close,
    free_port,
    get_json,
    ids,
    open_page,
    page_server,
    rerank,
    search,
    served_process,
    star,
    starred,
    wait_saved,
)

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright==1.65.2)"
)
expect = sync_api.expect
NOTE = "Strong onboarding background <b>as typed</b>, not markup"


def _shortlist_id(page) -> str | None:
    return parse_qs(urlsplit(page.url).query).get("shortlist", [None])[0]


def _notes(page) -> dict[str, str]:
    return page.locator("[data-testid=star-note]").evaluate_all(
        "notes => Object.fromEntries(notes.map(n => [n.dataset.id, n.value]))"
    )


def _assert_restored(page, stars: list[str], notes: dict[str, str], name: str) -> None:
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("[data-testid=result-row][data-starred=true]")
    page.wait_for_function("() => !document.body.classList.contains('busy')")
    assert starred(page) == stars
    assert page.input_value("[data-testid=query]") == QUERY
    assert page.input_value("[data-testid=shortlist-name]") == name
    expect(page.locator("[data-testid=star-count]")).to_have_text(f"{len(stars)} of 5 starred")
    assert _notes(page) == notes
    expect(page.locator("[data-testid=save-status]")).to_contain_text(f"Opened “{name}”")


def test_stars_and_notes_survive_a_reload_and_a_restart(page_browser, page_pool, tmp_path):
    port, db = free_port(), tmp_path / "shortlists.db"
    with served_process(page_pool, db, port, tmp_path) as url:
        page, errors = open_page(page_browser, url)
        expect(page.locator("[data-testid=save-status]")).to_contain_text("Star a candidate")
        first = search(page)[3]
        star(page, first, 1)
        second = ids(page)[6]  # the list was re-ranked by the first star
        star(page, second, 2)
        page.locator(f"[data-testid=star-note][data-id='{first}']").fill(NOTE)
        page.keyboard.press("Tab")  # leaving the field saves the note at once
        wait_saved(page)
        expect(page.locator("[data-testid=save-status]")).to_contain_text(f"Saved “{QUERY}”")
        shortlist = _shortlist_id(page)
        assert shortlist is not None  # saved as soon as the first star was given
        notes = {first: NOTE, second: ""}
        saved = get_json(f"{url}/shortlists/{shortlist}")
        assert [s["id"] for s in saved["stars"]] == [first, second]
        assert saved["stars"][0]["note"] == NOTE and saved["method"] == "tfidf"

        page.reload()
        _assert_restored(page, [first, second], notes, QUERY)
    with served_process(page_pool, db, port, tmp_path):  # a new process on the same file
        page.reload()
        _assert_restored(page, [first, second], notes, QUERY)
        assert _shortlist_id(page) == shortlist
        close(page, errors, allowed=("Failed to load resource", "ERR_CONNECTION_REFUSED"))


def test_the_picker_opens_renames_starts_and_deletes(page_browser, page_pool):
    with page_server(page_pool) as url:
        page, errors = open_page(page_browser, url)
        rows = search(page)
        star(page, rows[0], 1)
        wait_saved(page)
        first_id = _shortlist_id(page)
        page.fill("[data-testid=shortlist-name]", "HR, first round")
        page.press("[data-testid=shortlist-name]", "Enter")  # Enter renames
        wait_saved(page)
        expect(page.locator("[data-testid=save-status]")).to_contain_text("HR, first round")
        assert get_json(f"{url}/shortlists/{first_id}")["name"] == "HR, first round"

        rerank(page, lambda: page.click("[data-testid=shortlist-new]"))  # drawn without stars
        assert _shortlist_id(page) is None and starred(page) == []
        expect(page.locator("[data-testid=shortlist-name]")).to_have_value("")
        star(page, rows[2], 1)
        wait_saved(page)
        second_id = _shortlist_id(page)
        assert second_id not in (None, first_id)
        picker = page.locator("[data-testid=shortlist-picker] option")
        expect(picker).to_have_text(
            ["New shortlist", f"{QUERY} (1 star)", "HR, first round (1 star)"]
        )

        page.select_option("[data-testid=shortlist-picker]", first_id)
        page.wait_for_function("id => location.search === `?shortlist=${id}`", arg=first_id)
        page.wait_for_selector(f"[data-testid=result-row][data-id='{rows[0]}'][data-starred=true]")
        assert starred(page) == [rows[0]]
        expect(page.locator("[data-testid=shortlist-name]")).to_have_value("HR, first round")

        page.once("dialog", lambda dialog: dialog.accept())
        page.click("[data-testid=shortlist-delete]")
        expect(page.locator("[data-testid=save-status]")).to_have_text("Deleted “HR, first round”.")
        assert _shortlist_id(page) is None
        expect(picker).to_have_text(["New, not saved yet", f"{QUERY} (1 star)"])
        assert [s["id"] for s in get_json(f"{url}/shortlists")["items"]] == [int(second_id)]
        # An address naming a deleted shortlist says so and starts afresh.
        page.goto(f"{url}/?shortlist={first_id}")
        expect(page.locator("[data-testid=error]")).to_have_text(
            f"Shortlist {first_id} no longer exists."
        )
        assert _shortlist_id(page) is None
        close(page, errors, allowed=("404",))


def test_the_shortlist_downloads_as_csv_and_json(page_browser, page_pool, tmp_path):
    with page_server(page_pool) as url:
        page, errors = open_page(page_browser, url)
        assert page.locator("[data-testid=export-shortlist-csv]").is_disabled()  # none saved
        one = search(page)[1]
        star(page, one, 1)
        two = ids(page)[4]
        star(page, two, 2)
        page.locator(f"[data-testid=star-note][data-id='{two}']").fill(NOTE)
        with page.expect_download() as got:
            page.click("[data-testid=export-shortlist-csv]")  # waits for the note to be saved
        download = got.value
        sid = _shortlist_id(page)
        assert download.suggested_filename == f"shortlist-{sid}.csv"
        path = tmp_path / download.suggested_filename
        download.save_as(path)
        table = list(csv.DictReader(path.open(encoding="utf-8")))
        assert [r["candidate_id"] for r in table] == [one, two]
        assert table[1]["note"] == NOTE
        assert {r["query"] for r in table} == {QUERY} and table[0]["title"]

        with page.expect_download() as got:
            page.click("[data-testid=export-shortlist-json]")
        body = json.loads(got.value.path().read_text())
        assert [s["id"] for s in body["stars"]] == [one, two]
        assert body["stars"][1]["note"] == NOTE and all(s["in_pool"] for s in body["stars"])
        expect(page.locator("[data-testid=upload-result]")).to_contain_text("Downloaded shortlist-")
        close(page, errors)
