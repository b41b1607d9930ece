"""Tests for title/location normalisation, abbreviation expansion and rejects."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shortlister.core.errors import ConfigError, DataError
from shortlister.data import schema
from shortlister.data.clean import (
    DEFAULT_ABBREVIATIONS,
    CleanConfig,
    clean_candidates,
    expand_abbreviations,
    normalise_text,
    write_rejects,
)
from shortlister.data.loader import load_candidates

REAL_DATA = Path(__file__).resolve().parents[3] / "shared/data/potential_talents.csv"


def _frame(titles: list[object], locations: list[object] | None = None) -> pd.DataFrame:
    n = len(titles)
    return pd.DataFrame(
        {
            schema.ID: [str(i) for i in range(1, n + 1)],
            schema.TITLE: titles,
            schema.LOCATION: locations if locations is not None else ["Austin"] * n,
            "connection": ["500+ "] * n,
            schema.SOURCE_ROW: list(range(11, 11 + n)),
        }
    )


@pytest.mark.parametrize(
    ("text", "expected", "n"),
    [
        ("HR", "Human Resources", 1),
        ("Sr. HR Mgr.", "Senior Human Resources Manager", 3),
        ("VP of HR", "Vice President of Human Resources", 2),
        ("HRIS Analyst", "Human Resources Information Systems Analyst", 1),
        ("HRBP", "Human Resources Business Partner", 1),
        ("SVP, CHRO", "Senior Vice President, Chief Human Resources Officer", 2),
        ("Sr.Manager", "Senior Manager", 1),
        ("sr hr mgr", "senior human resources manager", 3),
        ("L&D and R&D", "Learning and Development and Research and Development", 2),
        ("Software Eng.", "Software Engineer", 1),
        ("Tech. Lead", "Technician Lead", 1),
        ("Admin Asst", "Administrator Assistant", 2),
        ("Non-Exec Dir.", "Non-Executive Director", 2),
        ("Sales Rep", "Sales Representative", 1),
        # No false positives: whole words only, and some short forms only with a dot.
        ("Three Reports", "Three Reports", 0),
        ("Development", "Development", 0),
        ("Report", "Report", 0),
        ("Administration", "Administration", 0),
        ("Administrative Professionals", "Administrative Professionals", 0),
        ("DevOps", "DevOps", 0),
        ("Eng Lead", "Eng Lead", 0),
        ("Tech Lead", "Tech Lead", 0),
        ("IT Manager", "IT Manager", 0),
        ("Gen. Manager", "Gen. Manager", 0),
        ("GPHR | SPHR", "GPHR | SPHR", 0),
    ],
)
def test_expand_abbreviations(text: str, expected: str, n: int) -> None:
    assert expand_abbreviations(text) == (expected, n)


def test_expansion_is_not_reexpanded() -> None:
    # "Human Resources" contains no abbreviation, but a custom table could loop.
    table = {"HR": "HR Human Resources"}
    assert expand_abbreviations("HR", table) == ("HR Human Resources", 1)


def test_expand_with_custom_table_and_empty_table() -> None:
    assert expand_abbreviations("TA Lead", {"TA": "Talent Acquisition"}) == (
        "Talent Acquisition Lead",
        1,
    )
    assert expand_abbreviations("HR", {}) == ("HR", 0)


def test_default_table_leaves_it_alone() -> None:
    assert "IT" not in DEFAULT_ABBREVIATIONS
    assert "Gen." not in DEFAULT_ABBREVIATIONS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＨＲ　Ｍａｎａｇｅｒ", "HR Manager"),  # full-width letters and ideographic space
        ("HR\u200b Manager\ufeff", "HR Manager"),
        ("Recruit\u00ader", "Recruiter"),  # soft hyphen
        ("İzmir, Türkiye", "İzmir, Türkiye"),
        ("  Senior\n\tRecruiter  \r\n at  X ", "Senior Recruiter at X"),
        ("a  |b", "a | b"),
        ("Human Resources|\nConflict Management|", "Human Resources | Conflict Management"),
        ("| - HR Manager ,", "HR Manager"),
        ("Non\u00a0breaking", "Non breaking"),
        ("bell\x07 char", "bell char"),
        ("", ""),
    ],
)
def test_normalise_text(text: str, expected: str) -> None:
    assert normalise_text(text) == expected


def test_clean_candidates_basic() -> None:
    df = _frame(["Sr. HR\nMgr.", "Recruiter"], [" Houston,  Texas\u200b", None])
    result = clean_candidates(df)
    clean = result.clean
    assert clean[schema.TITLE].tolist() == ["Senior Human Resources Manager", "Recruiter"]
    assert clean[schema.TITLE_RAW].tolist() == ["Sr. HR\nMgr.", "Recruiter"]
    assert clean[schema.LOCATION].tolist() == ["Houston, Texas", ""]
    assert list(clean.columns) == [
        "id",
        "title",
        "title_raw",
        "location",
        "connection",
        "source_row",
    ]
    assert clean["connection"].tolist() == ["500+ ", "500+ "]
    assert result.counts["n_abbreviations_expanded"] == 3
    assert result.counts["n_changed_by_normalisation"] == 1
    assert result.counts["n_distinct_titles"] == 2
    assert result.rejects.empty


@pytest.mark.parametrize(
    ("title", "code"),
    [
        (None, "missing_title"),
        (float("nan"), "missing_title"),
        ("", "missing_title"),
        ("  \n ", "missing_title"),
        ("|", "missing_title"),
        ("N/A", "placeholder_title"),
        ("none", "placeholder_title"),
        ("NULL", "placeholder_title"),
        ("-", "placeholder_title"),
        ("--", "placeholder_title"),
        (".", "placeholder_title"),
        ("TBD", "placeholder_title"),
        ("Unknown", "placeholder_title"),
        ("12345", "no_letters"),
        ("X 1", "no_letters"),
        ("A" * 301, "title_too_long"),
    ],
)
def test_reject_reasons(title: object, code: str) -> None:
    df = _frame(["Recruiter", title])
    result = clean_candidates(df)
    assert result.clean[schema.ID].tolist() == ["1"]
    assert result.rejects[schema.ID].tolist() == ["2"]
    reason = result.rejects[schema.REASON].iloc[0]
    assert reason.startswith(f"{code}: row 12, field 'title': ")
    assert result.counts[f"n_rejected_{code}"] == 1
    assert result.counts["n_rejected"] == 1


def test_rejects_keep_original_columns() -> None:
    df = _frame(["Recruiter", "n/a"])
    rejects = clean_candidates(df).rejects
    assert list(rejects.columns) == [*df.columns, schema.REASON]
    assert rejects[schema.TITLE].tolist() == ["n/a"]
    assert rejects["connection"].tolist() == ["500+ "]


def test_reason_uses_position_without_source_row() -> None:
    df = pd.DataFrame({schema.ID: ["a", "b"], schema.TITLE: ["HR", ""]})
    reason = clean_candidates(df).rejects[schema.REASON].iloc[0]
    assert reason.startswith("missing_title: row 2, field 'title'")


def test_config_limits_apply() -> None:
    df = _frame(["Recruiter", "HR"])
    result = clean_candidates(df, CleanConfig(min_letters=3, max_title_chars=5))
    assert result.rejects[schema.REASON].str.split(":").str[0].tolist() == [
        "title_too_long",
        "no_letters",
    ]


def test_counts_add_up_and_input_unchanged() -> None:
    df = _frame(["HR", "", "n/a", "42", "Recruiter", "HR", "A" * 400])
    before = df.copy(deep=True)
    result = clean_candidates(df)
    pd.testing.assert_frame_equal(df, before)
    c = result.counts
    assert c["n_input"] == 7
    assert c["n_input"] == c["n_clean"] + c["n_rejected"]
    assert c["n_clean"] == 3
    assert c["n_distinct_titles"] == 2
    assert c["n_rejected"] == sum(
        c[f"n_rejected_{code}"]
        for code in ("missing_title", "placeholder_title", "no_letters", "title_too_long")
    )
    assert len(result.rejects) == c["n_rejected"]


def test_empty_frame() -> None:
    result = clean_candidates(_frame([]))
    assert result.counts["n_input"] == 0
    assert result.clean.empty and result.rejects.empty
    assert schema.REASON in result.rejects.columns


def test_expansion_switch_and_extra_abbreviations() -> None:
    df = _frame(["HR TA Lead"])
    assert clean_candidates(df, CleanConfig(expand_abbreviations=False)).clean[
        schema.TITLE
    ].tolist() == ["HR TA Lead"]
    cfg = CleanConfig(extra_abbreviations={"TA": "Talent Acquisition", "hr": "People"})
    assert clean_candidates(df, cfg).clean[schema.TITLE].tolist() == [
        "People Talent Acquisition Lead"
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_title_chars": 0},
        {"min_letters": -1},
        {"min_letters": True},
        {"min_letters": 10, "max_title_chars": 5},
        {"expand_abbreviations": "yes"},
        {"extra_abbreviations": {"": "x"}},
        {"extra_abbreviations": {"TA": ""}},
        {"extra_abbreviations": ["TA"]},
    ],
)
def test_config_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        CleanConfig(**kwargs)  # type: ignore[arg-type]


def test_missing_title_column() -> None:
    with pytest.raises(DataError, match="field 'title'"):
        clean_candidates(pd.DataFrame({schema.ID: ["1"]}))


def test_write_rejects_empty_writes_header(tmp_path: Path) -> None:
    rejects = clean_candidates(_frame(["Recruiter"])).rejects
    path = tmp_path / "nested" / "rejects.csv"
    write_rejects(rejects, path)
    assert path.read_text().strip() == "id,title,location,connection,source_row,reason"


def test_write_rejects_round_trip(tmp_path: Path) -> None:
    rejects = clean_candidates(_frame(["Recruiter", "n/a"])).rejects
    path = tmp_path / "rejects.csv"
    write_rejects(rejects, path)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert back[schema.REASON].tolist() == rejects[schema.REASON].tolist()


def test_real_file_cleans_without_rejects() -> None:
    if not REAL_DATA.exists():
        pytest.skip(f"real dataset not found at {REAL_DATA} (CI checks it out in ../shared)")
    df = load_candidates(REAL_DATA)
    result = clean_candidates(df)
    assert result.rejects.empty
    assert result.counts["n_clean"] == 104
    assert not result.clean[schema.TITLE].str.contains("\n").any()
    assert result.clean[schema.TITLE_RAW].nunique() == 52
    assert result.counts["n_distinct_titles"] == 52
    by_id = result.clean.set_index(schema.ID)
    assert by_id.loc["77", schema.TITLE] == (
        "Human Resources | Conflict Management | Policies & Procedures | Talent Management"
        " | Benefits & Compensation"
    )
    assert by_id.loc["8", schema.TITLE] == "Human Resources Senior Specialist"
    assert by_id.loc["5", schema.LOCATION] == "İzmir, Türkiye"
