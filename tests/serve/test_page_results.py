"""The page's results: why each one is listed (marked words, closest star, the score's two
parts), methods in plain words, filters, sort, folded headlines, and the ranked list's
export read back.

Debian's headless Chromium against a real uvicorn (skipped, saying why, without it).
"""

from __future__ import annotations

import csv
import json

import pytest

from tests.serve.page_kit import (
    ASPIRING,
    MARKUP,
    QUERY,
    close,
    get_json,
    ids,
    open_page,
    page_server,
    post_json,
    rerank,
    rows_text,
    search,
    star,
)

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright==1.65.2)"
)
expect = sync_api.expect
RANK = {"query": QUERY, "top_k": 20, "group_duplicates": True}
US_STATES = ("Texas", "Illinois", "Washington", "New York", "Colorado", "Massachusetts", "Georgia")


def _row(page, cid: str):
    return page.locator(f"[data-testid=result-row][data-id='{cid}']")


def test_methods_are_named_in_plain_words(page_browser, page_pool):
    with page_server(page_pool) as url:
        page, errors = open_page(page_browser, url)
        method = get_json(url + "/methods")["methods"][0]
        option = page.locator("[data-testid=method] option")
        expect(option).to_have_text([method["label"]])  # "keywords", not "tfidf"
        assert option.get_attribute("title") == f"tfidf: {method['description']}"
        expect(page.locator("[data-testid=method-help]")).to_have_text(method["description"])
        search(page)
        expect(page.locator("[data-testid=score-scale]")).to_have_text(method["score_scale"])
        # The timings are for the curious: folded away, not in the recruiter's words.
        debug = page.locator("[data-testid=debug]")
        assert debug.get_attribute("open") is None
        expect(page.locator("[data-testid=timing]")).to_be_hidden()
        expect(page.locator("[data-testid=timing]")).to_contain_text("tfidf · 24 candidates")
        close(page, errors)


def test_each_result_says_why_it_is_listed(page_browser, page_pool):
    with page_server(page_pool) as url:
        page, errors = open_page(page_browser, url)
        shown = search(page)
        answer = post_json(url + "/rank", RANK)
        assert shown == [i["id"] for i in answer["items"]]
        expect(page.locator("[data-testid=summary]")).to_have_text(
            f"Showing {len(shown)} of 24 candidates."
        )
        for item in answer["items"]:
            row = _row(page, item["id"])
            spans = item["reasons"]["highlights"]
            assert row.locator("mark").all_text_contents() == [item["title"][s:e] for s, e in spans]
            assert row.locator("[data-testid=title]").text_content() == item["title"]
        words = _row(page, shown[0]).locator("[data-testid=reason-words]")
        expect(words).to_have_text("shares “human”, “resources” with the role")
        # A headline holding markup is shown as the text it is.
        markup = _row(page, "p12").locator("[data-testid=title]")
        cleaned = MARKUP.replace("HR", "Human Resources")  # the cleaner's expansion
        expect(markup).to_have_text(cleaned)
        assert page.locator("#results-body b, #results-body img").count() == 0
        assert markup.locator("mark").all_text_contents() == ["Human Resources"]
        assert page.locator("[data-testid=reason-star], [data-testid=score-parts]").count() == 0

        star(page, "p10", 1)
        steered = post_json(url + "/rank", {**RANK, "stars": ["p10"]})
        assert ids(page) == [i["id"] for i in steered["items"]]
        for item in steered["items"][1:4]:
            near, parts = item["reasons"]["closest_star"], item["reasons"]["parts"]
            row = _row(page, item["id"])
            expect(row.locator("[data-testid=reason-star]")).to_have_text(
                f"closest to your star: {near['title']} ({near['similarity']:.2f})"
            )
            expect(row.locator("[data-testid=score-parts]")).to_have_text(
                f"role match {parts['query']:.2f} + star similarity {parts['stars']:.2f} "
                "(stars weigh 50%)"
            )
        expect(page.locator("[data-testid=timing]")).to_contain_text("query vector cached")
        close(page, errors)


def test_filters_sort_and_folded_headlines(page_browser, page_pool):
    with page_server(page_pool) as url:
        page, errors = open_page(page_browser, url)
        countries = get_json(url + "/filters")["countries"]
        options = page.locator("[data-testid=country] option")
        expect(options).to_have_text(
            ["Any country", *[f"{c['name']} ({c['n']})" for c in countries]]
        )
        assert page.is_checked("[data-testid=group]")  # folded unless asked otherwise
        shown = search(page)
        same = ["p03", "p04", "p05", "p06"]
        assert "p03" in shown and not set(same[1:]) & set(shown)
        toggle = _row(page, "p03").locator("[data-testid=group-toggle]")
        expect(toggle).to_have_text("×4")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(_row(page, "p03").locator("[data-testid=group-member]")).to_have_text(
            [
                "p04 · Berlin, Germany · screening 40",
                "p05 · Austin, Texas · screening 90",
                "p06 · Chicago, Illinois · screening 65",
            ]
        )
        unfolded = rerank(page, lambda: page.uncheck("[data-testid=group]"))
        assert set(same) <= set(unfolded)
        assert page.locator("[data-testid=group-toggle]").count() == 0
        titles = rows_text(page, "title")
        assert titles.count(ASPIRING) == 4
        page.check("[data-testid=group]")

        rerank(page, lambda: page.select_option("[data-testid=country]", "United States"))
        locations = page.locator("td.location").all_text_contents()
        assert locations and all(loc.endswith(US_STATES) for loc in locations), locations
        body = {**RANK, "countries": ["United States"]}
        n_passing = post_json(url + "/rank", body)["n_passing"]
        expect(page.locator("[data-testid=summary]")).to_have_text(
            f"Showing {len(ids(page))} of {n_passing} candidates that pass the filters "
            "(24 in the pool)."
        )
        page.fill("[data-testid=screening-min]", "60")
        rerank(page, lambda: page.press("[data-testid=screening-min]", "Enter"))
        scores = [float(s) for s in page.locator("td.screening").all_text_contents()]
        assert scores and min(scores) >= 60
        body.update(screening_min=60)
        assert ids(page) == [i["id"] for i in post_json(url + "/rank", body)["items"]]

        rerank(page, lambda: page.select_option("[data-testid=sort]", "screening"))
        by_screening = [float(s) for s in page.locator("td.screening").all_text_contents()]
        assert by_screening == sorted(by_screening, reverse=True) and len(by_screening) > 2

        page.fill("[data-testid=screening-max]", "50")
        page.press("[data-testid=screening-max]", "Enter")
        expect(page.locator("[data-testid=error]")).to_contain_text(
            "screening_min (60) must not exceed screening_max (50)"
        )
        close(page, errors, allowed=("422",))


def test_the_ranked_list_downloads_as_shown(page_browser, page_pool, tmp_path):
    with page_server(page_pool) as url:
        page, errors = open_page(page_browser, url)
        search(page)
        star(page, "p17", 1)
        rerank(page, lambda: page.select_option("[data-testid=country]", "United States"))
        shown = ids(page)
        with page.expect_download() as got:
            page.click("[data-testid=export-ranked-csv]")
        download = got.value
        assert download.suggested_filename == "ranked-human-resources.csv"
        path = tmp_path / download.suggested_filename
        download.save_as(path)
        table = list(csv.DictReader(path.open(encoding="utf-8")))
        assert list(table[0]) == [
            "rank", "id", "title", "location", "screening_score", "score", "starred",
        ]  # fmt: skip
        assert [r["id"] for r in table] == shown
        assert table[0]["starred"] == "True" and table[0]["id"] == "p17"
        scores = page.locator("[data-testid=score]").all_text_contents()
        pairs = zip(table, scores, strict=True)
        assert all(abs(float(r["score"]) - float(s)) <= 5e-4 for r, s in pairs)

        with page.expect_download() as got:
            page.click("[data-testid=export-ranked-json]")
        items = json.loads(got.value.path().read_text())
        assert [i["id"] for i in items] == shown
        assert all(i["country"] == "United States" for i in items[1:])
        close(page, errors)
