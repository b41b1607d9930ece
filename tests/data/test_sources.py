"""The one reader per public title list: what each returns, and how a bad file fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from shortlister.core.errors import ConfigError, DataError
from shortlister.data.clean import CleanConfig
from shortlister.data.default.config import GenerateConfig
from shortlister.data.external import ExternalConfig
from shortlister.data.sources import (
    load_bls_titles,
    read_bls_soc,
    read_esco,
    read_esco_broader,
    read_onet,
)


def test_bls_titles_are_the_packaged_list() -> None:
    titles = load_bls_titles()
    assert list(titles.columns) == ["raw", "occupation", "category"]
    assert len(titles) > 4000 and titles["raw"].is_monotonic_increasing


def test_esco_rows_keep_file_order_and_split_alt_labels(tmp_path: Path) -> None:
    path = tmp_path / "esco.csv"
    path.write_text(
        "conceptUri,iscoGroup,preferredLabel,altLabels\n"
        'u1, 1223 , technical director ,"head of technical\n\n technical manager "\n'
        "u2,8121,wire drawer,\n",
        encoding="utf-8",
    )
    frame = read_esco(path)
    assert frame["code"].tolist() == ["u1", "u2"]
    assert frame["group"].tolist() == ["1223", "8121"]
    assert frame["occupation"].tolist() == ["technical director", "wire drawer"]
    assert frame["alternatives"].tolist() == [("head of technical", "technical manager"), ()]


def test_esco_bad_isco_group_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "esco.csv"
    path.write_text(
        "conceptUri,iscoGroup,preferredLabel,altLabels\nu1,1223,a,\nu2,12,b,\n", encoding="utf-8"
    )
    with pytest.raises(DataError, match="4-digit ISCO-08 group") as info:
        read_esco(path)
    assert info.value.row == 2 and info.value.field == "iscoGroup"


def test_esco_broader_keeps_occupation_links_only(tmp_path: Path) -> None:
    path = tmp_path / "broader.csv"
    path.write_text(
        "conceptType,conceptUri,broaderType,broaderUri\n"
        "Occupation,u1,Occupation,u2\n"
        "Occupation,u2,ISCOGroup,g1\n",
        encoding="utf-8",
    )
    assert read_esco_broader(path) == [("u1", "u2")]


def test_bls_soc_rows_are_stripped_and_codes_checked(tmp_path: Path) -> None:
    path = tmp_path / "bls.tsv"
    header = "2018 SOC Code\t2018 SOC Title\t2018 SOC Direct Match Title\n"
    path.write_text(header + " 13-1071 \tHR Specialists\t Recruiter \n13-1071\tHR Specialists\t\n")
    frame = read_bls_soc(path)
    assert frame.to_dict("list") == {
        "code": ["13-1071", "13-1071"],
        "occupation": ["HR Specialists", "HR Specialists"],
        "title": ["Recruiter", ""],
    }
    path.write_text(header + "131071\tHR Specialists\tRecruiter\n")
    with pytest.raises(DataError, match="SOC code") as info:
        read_bls_soc(path)
    assert info.value.row == 1


def test_onet_codes_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "onet.tsv"
    path.write_text("O*NET-SOC Code\tTitle\tAlternate Title\n13-1071\tHR Specialists\tRecruiter\n")
    with pytest.raises(DataError, match="O\\*NET-SOC code"):
        read_onet(path)


@pytest.mark.parametrize(
    ("cls", "cfg"),
    [
        (GenerateConfig, {"n_candidate": 10}),
        (CleanConfig, {"max_title_char": 10}),
        (ExternalConfig, {"name": "bls_soc", "max_query": 10}),
    ],
)
def test_from_config_refuses_unknown_keys(cls, cfg) -> None:
    with pytest.raises(ConfigError, match="unknown keys"):
        cls.from_config(cfg)
    assert cls.from_config(None) == cls()
