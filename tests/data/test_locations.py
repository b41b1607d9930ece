from __future__ import annotations

import pandas as pd
import pytest

from shortlister.data.default.candidates import LOCATIONS
from shortlister.data.loader import load_candidates
from shortlister.data.locations.report import UNRESOLVED, distinct_locations, location_report
from shortlister.data.locations.resolve import LocationMatch, normalise_location, resolve_locations


@pytest.mark.parametrize(
    ("text", "iso3", "how"),
    [
        ("Kanada", "CAN", "alias"),
        ("İzmir, Türkiye", "TUR", "country"),
        ("Amerika Birleşik Devletleri", "USA", "alias"),
        ("Raleigh-Durham, North Carolina Area", "USA", "subdivision"),
        ("Greater New York City Area", "USA", "metro"),
        ("London, United Kingdom", "GBR", "country"),
        ("Bengaluru, Karnataka, India", "IND", "country"),
        ("São Paulo, Brazil", "BRA", "country"),
        ("Toronto, Canada Area", "CAN", "country"),
        ("Houston, Texas", "USA", "subdivision"),
        ("Lake Forest, California", "USA", "subdivision"),
        ("San Francisco Bay Area", "USA", "metro"),
        ("Greater Atlanta Area", "USA", "metro"),
        ("Dallas/Fort Worth Area", "USA", "metro"),
        ("Miami/Fort Lauderdale Area", "USA", "metro"),
        ("Washington D.C. Metro Area", "USA", "metro"),
        ("Georgia", "USA", "subdivision"),  # the US state, by design (see AMBIGUOUS)
        ("Washington", "USA", "subdivision"),
        ("Austin, TX", "USA", "subdivision"),
        ("San Jose, CA", "USA", "subdivision"),  # California, not Canada
        ("United States of America", "USA", "country"),
        ("USA", "USA", "country"),
        ("U.S.", "USA", "country"),
        ("UK", "GBR", "country"),
        ("U.K.", "GBR", "country"),
        ("England", "GBR", "alias"),
        ("Scotland", "GBR", "alias"),
        ("UAE", "ARE", "alias"),
        ("Hong Kong SAR", "HKG", "alias"),
        ("Turkey", "TUR", "alias"),
        ("Deutschland", "DEU", "alias"),
        ("München, Deutschland", "DEU", "alias"),
        ("España", "ESP", "alias"),
        ("Brasil", "BRA", "alias"),
        ("Italia", "ITA", "alias"),
        ("México", "MEX", "country"),
        ("Ciudad de México, México", "MEX", "country"),
        ("Nederland", "NLD", "alias"),
        ("Amsterdam Area, Netherlands", "NLD", "country"),
        ("London", "GBR", "city"),
        ("Paris", "FRA", "city"),
        ("Bangalore", "IND", "city"),
        ("Lagos", "NGA", "city"),
        ("Dubai", "ARE", "city"),
        ("Singapore", "SGP", "country"),
        ("Ontario", "CAN", "subdivision"),
        ("Birmingham, Alabama", "USA", "subdivision"),  # last part first
        ("Korea", "KOR", "alias"),
    ],
)
def test_resolves_to_country(text, iso3, how):
    match = normalise_location(text)
    assert match is not None, text
    assert (match.iso3, match.how) == (iso3, how)


@pytest.mark.parametrize(
    "text", ["KANADA", "izmir, turkiye", "SAO PAULO, BRAZIL", "  greater new york city area "]
)
def test_case_and_diacritics_do_not_matter(text):
    assert normalise_location(text) is not None


def test_display_names_are_readable():
    assert normalise_location("Kanada") == LocationMatch("Canada", "CAN", "alias")
    assert normalise_location("Seoul").country_name == "South Korea"


@pytest.mark.parametrize("text", ["Remote", "Earth", "", "   ", "in", "and", "Worldwide"])
def test_unresolvable_is_none(text):
    assert normalise_location(text) is None


def test_lower_case_codes_are_words_not_countries():
    # "in" is not India and "and" not Andorra; codes count only in capitals.
    assert normalise_location("IN") is not None
    assert normalise_location("in") is None


def test_every_default_dataset_location_resolves():
    unresolved = [loc for loc, _ in LOCATIONS if normalise_location(loc) is None]
    assert unresolved == []


def test_resolve_locations_keeps_every_row_and_the_index():
    series = pd.Series(["Kanada", "Remote", None, "Kanada", ""], index=[10, 11, 12, 13, 14])
    resolved = resolve_locations(series)
    assert list(resolved.index) == [10, 11, 12, 13, 14]
    assert list(resolved.columns) == ["location", "country_name", "iso3", "how"]
    assert resolved["location"].tolist() == ["Kanada", "Remote", "", "Kanada", ""]
    assert resolved["iso3"].isna().tolist() == [False, True, True, False, True]


def test_report_lists_unresolved_with_counts_most_frequent_first():
    resolved = resolve_locations(["Remote", "Earth", "Remote", "", "Kanada"])
    report = location_report(resolved)
    assert (report.n_rows, report.n_resolved, report.n_unresolved) == (5, 1, 4)
    assert report.unresolved == {"Remote": 2, "": 1, "Earth": 1}
    assert list(report.unresolved) == ["Remote", "", "Earth"]
    assert report.n_unresolved_distinct == 3
    assert report.share_resolved == pytest.approx(0.2)


def test_empty_input_reports_nothing_unresolved():
    report = location_report(resolve_locations([]))
    assert (report.n_rows, report.n_unresolved, report.share_resolved) == (0, 0, 1.0)


def test_distinct_locations_marks_unresolved():
    table = distinct_locations(resolve_locations(["Kanada", "Remote", "Kanada"]))
    assert table.to_dict("records") == [
        {"location": "Kanada", "n_candidates": 2, "country_name": "Canada", "iso3": "CAN",
         "how": "alias"},
        {"location": "Remote", "n_candidates": 1, "country_name": UNRESOLVED,
         "iso3": UNRESOLVED, "how": UNRESOLVED},
    ]  # fmt: skip


def test_client_file_resolves_at_least_95_percent(shared_data):
    frame = load_candidates(shared_data / "potential_talents.csv")
    report = location_report(resolve_locations(frame["location"]))
    assert report.n_rows == len(frame) > 0
    assert report.share_resolved >= 0.95, report.unresolved
