"""Tests for the candidate loader: the real export as-is, and every bad input it names."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from shortlister.core.errors import ConfigError, DataError
from shortlister.data import schema
from shortlister.data.loader import load_candidates

REAL_DATA = Path(__file__).resolve().parents[3] / "shared/data/potential_talents.csv"

GOOD_CSV = "id,title,location,screening_score\n1,HR Manager,Austin,80\n2,Recruiter,Boston,\n"


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _where(path: Path, rest: str) -> str:
    """Regex for a DataError message that starts by naming `path`."""
    return re.escape(f"{path}, {rest}")


@pytest.fixture
def real() -> pd.DataFrame:
    if not REAL_DATA.exists():
        pytest.skip(f"real dataset not found at {REAL_DATA} (CI checks it out in ../shared)")
    return load_candidates(REAL_DATA)


def test_real_file_loads_as_is(real: pd.DataFrame) -> None:
    assert len(real) == 104
    assert real[schema.ID].tolist() == [str(i) for i in range(1, 105)]
    assert real[schema.ID].is_unique
    assert real[schema.SOURCE_ROW].tolist() == list(range(1, 105))
    assert list(real.columns) == [
        "id",
        "title",
        "location",
        "screening_score",
        "connection",
        "fit",
        "source_row",
    ]
    assert real[schema.SCREENING_SCORE].dtype == "float64"
    assert real[schema.SCREENING_SCORE].isna().all()


def test_real_file_keeps_embedded_newlines_and_extras(real: pd.DataFrame) -> None:
    by_id = real.set_index(schema.ID)
    assert "\n" in by_id.loc["77", schema.TITLE]
    assert "\n" in by_id.loc["96", schema.TITLE]
    assert by_id.loc["96", schema.TITLE].startswith("Student at Indiana University Kokomo")
    assert (real[schema.TITLE].str.contains("\n")).sum() == 2
    assert by_id.loc["2", "connection"] == "500+ "
    assert (real["fit"] == "").all()
    assert by_id.loc["5", schema.LOCATION] == "İzmir, Türkiye"
    assert real[schema.TITLE].nunique() == 52


def test_minimal_csv(tmp_path: Path) -> None:
    df = load_candidates(_write(tmp_path, "c.csv", GOOD_CSV))
    assert df[schema.ID].tolist() == ["1", "2"]
    assert df[schema.SCREENING_SCORE].iloc[0] == 80.0
    assert math.isnan(df[schema.SCREENING_SCORE].iloc[1])
    assert df[schema.SOURCE_ROW].tolist() == [1, 2]


def test_headers_matched_loosely_and_values_kept(tmp_path: Path) -> None:
    text = (
        "\ufeff ID , Job_Title ,LOCATION, Connection\r\n"
        '007 ,"  Sr. HR\r\nManager ",  Austin , 500+ \r\n'
    )
    df = load_candidates(_write(tmp_path, "c.csv", text))
    row = df.iloc[0]
    assert row[schema.ID] == "007"  # stripped, not turned into a number
    assert row[schema.TITLE] == "  Sr. HR\r\nManager "  # raw; the cleaner tidies it
    assert row[schema.LOCATION] == "Austin"
    assert row["connection"] == " 500+ "
    assert math.isnan(row[schema.SCREENING_SCORE])


def test_tab_default_for_tsv_and_txt(tmp_path: Path) -> None:
    text = "id\ttitle\tlocation\n1\tRecruiter, Senior\tAustin\n"
    for name in ("c.tsv", "c.txt"):
        df = load_candidates(_write(tmp_path, name, text))
        assert df[schema.TITLE].tolist() == ["Recruiter, Senior"]


def test_delimiter_option(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", "id;title;location\n1;HR;Austin\n")
    assert load_candidates(path, delimiter=";")[schema.TITLE].tolist() == ["HR"]


def test_bad_delimiter_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="single character"):
        load_candidates(_write(tmp_path, "c.csv", GOOD_CSV), delimiter=";;")


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    text = "id,title,location\n\n1,HR,Austin\n,,\n2,Recruiter,Boston\n\n"
    df = load_candidates(_write(tmp_path, "c.csv", text))
    assert df[schema.ID].tolist() == ["1", "2"]
    assert df[schema.SOURCE_ROW].tolist() == [1, 2]


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "missing.csv"
    with pytest.raises(DataError, match=re.escape(f"{path}: file not found")):
        load_candidates(path)


def test_unknown_extension(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.xlsx", GOOD_CSV)
    with pytest.raises(DataError, match=re.escape(str(path)) + ".*'.xlsx'.*.csv, .tsv"):
        load_candidates(path)


def test_empty_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", "")
    with pytest.raises(DataError, match=re.escape(f"{path}: file is empty")):
        load_candidates(path)


def test_whitespace_only_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", "\n\n")
    with pytest.raises(DataError, match=re.escape(f"{path}: file has no header row")):
        load_candidates(path)


def test_header_only(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", "id,title,location\n")
    with pytest.raises(DataError, match=re.escape(f"{path}: no data rows")):
        load_candidates(path)


def test_semicolon_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", "id;job_title;location\n1;HR;Austin\n")
    with pytest.raises(DataError, match=re.escape(str(path))) as info:
        load_candidates(path)
    assert "looks like ';'-separated, expected ','" in str(info.value)
    assert "delimiter=';'" in str(info.value)


def test_comma_file_read_as_tsv(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.tsv", "id,title,location\n1,HR,Austin\n")
    with pytest.raises(DataError, match="looks like ','-separated, expected '\\\\t'"):
        load_candidates(path)


def test_latin1_file(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    # 0xDD is "İ" in Windows-1254 and 0xE9 is "é" in Latin-1: neither is valid UTF-8 here.
    path.write_bytes(b"id,title,location\n1,Caf\xe9 Manager,\xddzmir\n")
    with pytest.raises(DataError, match=re.escape(str(path))) as info:
        load_candidates(path)
    message = str(info.value)
    assert "expected UTF-8" in message
    assert "byte offset 23" in message
    assert "line 2" in message


def test_utf16_file_hint(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", "\ufeff" + GOOD_CSV, encoding="utf-16")
    with pytest.raises(DataError, match="UTF-16"):
        load_candidates(path)


def test_ragged_row(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", "id,title,location\n1,HR,Austin\n2,HR, Manager,Boston\n")
    with pytest.raises(DataError, match=_where(path, "row 2: has 4 fields but the header has 3")):
        load_candidates(path)
    with pytest.raises(DataError, match=re.escape("(line 3)")):
        load_candidates(path)


def test_ragged_row_after_multiline_field_names_lines(tmp_path: Path) -> None:
    text = 'id,title,location\n1,"HR\nManager",Austin\n2,Recruiter\n'
    path = _write(tmp_path, "c.csv", text)
    with pytest.raises(DataError, match=_where(path, "row 2") + r".*\(line 4\)"):
        load_candidates(path)


def test_unclosed_quote(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", 'id,title,location\n1,"HR Manager,Austin\n')
    with pytest.raises(DataError, match=re.escape(f"{path}: cannot parse CSV at line")):
        load_candidates(path)


def test_missing_location_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", "id,title,city\n1,HR,Austin\n")
    with pytest.raises(DataError, match=re.escape(str(path))) as info:
        load_candidates(path)
    assert "missing required column(s): location" in str(info.value)
    assert "found columns: id, title, city" in str(info.value)


def test_missing_title_and_id_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", "name,location\nAnn,Austin\n")
    with pytest.raises(
        DataError, match=r"missing required column\(s\): id, title \(or job_title\)"
    ):
        load_candidates(path)


def test_both_title_and_job_title(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", "id,title,job_title,location\n1,HR,HR,Austin\n")
    with pytest.raises(
        DataError, match=_where(path, "field 'title': has both 'title' and 'job_title'")
    ):
        load_candidates(path)


def test_duplicate_column_names(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", "id,title,location,Location\n1,HR,Austin,Boston\n")
    with pytest.raises(
        DataError, match=_where(path, "field 'location': column name appears twice")
    ):
        load_candidates(path)


def test_reserved_column_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", "id,title,location,source_row\n1,HR,Austin,3\n")
    with pytest.raises(
        DataError, match=_where(path, "field 'source_row': column name is reserved")
    ):
        load_candidates(path)


def test_empty_id(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", "id,title,location\n1,HR,Austin\n  ,Recruiter,Boston\n")
    with pytest.raises(DataError, match=_where(path, "row 2, field 'id': id is empty")):
        load_candidates(path)


def test_duplicate_ids_name_both_rows(tmp_path: Path) -> None:
    text = "id,title,location\n7,HR,Austin\n8,Recruiter,Boston\n 7 ,Manager,Dallas\n"
    path = _write(tmp_path, "c.csv", text)
    with pytest.raises(
        DataError, match=_where(path, "row 3, field 'id': duplicate id '7'")
    ) as info:
        load_candidates(path)
    assert "first in row 1 (line 2), again in row 3 (line 4)" in str(info.value)


@pytest.mark.parametrize("score", ["101", "-1", "abc", "nan", "inf"])
def test_bad_screening_score(tmp_path: Path, score: str) -> None:
    text = f"id,title,location,screening_score\n1,HR,Austin,50\n2,HR,Boston,{score}\n"
    path = _write(tmp_path, "c.csv", text)
    expected = _where(path, f"row 2, field 'screening_score': '{score}' is not a valid score")
    with pytest.raises(DataError, match=expected + ".*from 0 to 100"):
        load_candidates(path)


def test_score_bounds_inclusive(tmp_path: Path) -> None:
    text = "id,title,location,screening_score\n1,HR,Austin,0\n2,HR,Boston, 100.0 \n"
    df = load_candidates(_write(tmp_path, "c.csv", text))
    assert df[schema.SCREENING_SCORE].tolist() == [0.0, 100.0]


def test_parquet_round_trip(tmp_path: Path) -> None:
    source = pd.DataFrame(
        {
            "ID": [1, 2],
            "job_title": ["HR Manager", None],
            "location": [" Austin ", "Boston"],
            "screening_score": [55.5, None],
            "connection": ["500+ ", "3"],
        }
    )
    path = tmp_path / "c.parquet"
    source.to_parquet(path)
    df = load_candidates(path)
    assert list(df.columns) == [
        "id",
        "title",
        "location",
        "screening_score",
        "connection",
        "source_row",
        "screening_score_text",
    ]
    assert df[schema.SCORE_TEXT].tolist() == ["55.5", ""]
    assert df[schema.ID].tolist() == ["1", "2"]
    assert df[schema.TITLE].tolist() == ["HR Manager", ""]
    assert df[schema.LOCATION].tolist() == ["Austin", "Boston"]
    assert df[schema.SCREENING_SCORE].iloc[0] == 55.5
    assert math.isnan(df[schema.SCREENING_SCORE].iloc[1])
    assert df["connection"].tolist() == ["500+ ", "3"]
    assert df[schema.SOURCE_ROW].tolist() == [1, 2]


def test_parquet_float_ids_and_index(tmp_path: Path) -> None:
    source = pd.DataFrame({"id": [3.0, 4.0], "title": ["HR", "Dev"], "location": ["A", "B"]})
    path = tmp_path / "c.pq"
    source.set_index("id").to_parquet(path)
    assert load_candidates(path)[schema.ID].tolist() == ["3", "4"]


def test_parquet_validates_like_csv(tmp_path: Path) -> None:
    source = pd.DataFrame({"id": ["a", "a"], "title": ["HR", "Dev"], "location": ["A", "B"]})
    path = tmp_path / "c.parquet"
    source.to_parquet(path)
    with pytest.raises(DataError, match=_where(path, "row 2, field 'id': duplicate id 'a'")):
        load_candidates(path)


def test_parquet_score_out_of_range(tmp_path: Path) -> None:
    source = pd.DataFrame(
        {"id": [1], "title": ["HR"], "location": ["A"], "screening_score": [101.0]}
    )
    path = tmp_path / "c.parquet"
    source.to_parquet(path)
    with pytest.raises(DataError, match=_where(path, "row 1, field 'screening_score'")):
        load_candidates(path)


def test_not_really_parquet(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.parquet", GOOD_CSV)
    with pytest.raises(DataError, match=re.escape(f"{path}: cannot read as Parquet")):
        load_candidates(path)
