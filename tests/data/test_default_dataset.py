"""The bundled default dataset: deterministic, messy in the intended ways, judged correctly."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shortlister.core.errors import ConfigError
from shortlister.data.default import headlines
from shortlister.data.default.build import (
    DefaultDataset,
    generate_default_dataset,
    write_default_dataset,
)
from shortlister.data.default.candidates import BAD_TITLES
from shortlister.data.default.config import GenerateConfig
from shortlister.data.default.headlines import add_typo
from shortlister.data.default.judgments import content_stems, occupation_grade
from shortlister.data.default.queries import CLIENT_OCCUPATION, CLIENT_QUERIES, singular_name
from shortlister.data.sources import load_bls_titles
from shortlister.evaluation.trec import read_qrels, read_queries

SMALL = {"n_candidates": 800, "n_queries": 12}
FILES = ("candidates.csv", "queries.tsv", "qrels.txt", "labels.csv")


@pytest.fixture(scope="module")
def small() -> DefaultDataset:
    return generate_default_dataset(GenerateConfig(**SMALL))


def _hashes(out_dir: Path) -> dict[str, str]:
    return {name: hashlib.sha256((out_dir / name).read_bytes()).hexdigest() for name in FILES}


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def _vocabulary() -> set[str]:
    """Every word the generator can emit without a typo."""
    words: set[str] = set()
    phrases = [
        *load_bls_titles()["raw"],
        *(t for t, _, _ in headlines.TEMPLATES),
        *headlines.TAGLINES,
        *headlines.COMPANY_HEADS,
        *headlines.COMPANY_TAILS,
        *headlines.TOWNS,
        *headlines.UNIVERSITY_PATTERNS,
        *(short for _, short in headlines.ABBREVIATIONS),
        *BAD_TITLES,
    ]
    for phrase in phrases:
        words |= _tokens(phrase)
    return words


def _query_occupations(ds: DefaultDataset) -> dict[str, str]:
    top = ds.qrels[ds.qrels["grade"] == 3].merge(ds.labels, left_on="candidate_id", right_on="id")
    per_query = top.groupby("query_id")["occupation"].unique()
    assert all(len(v) == 1 for v in per_query), "grade 3 must mean exactly one occupation"
    return {qid: v[0] for qid, v in per_query.items()}


def test_same_config_gives_byte_identical_files(tmp_path: Path) -> None:
    first = write_default_dataset(generate_default_dataset(GenerateConfig(**SMALL)), tmp_path / "a")
    second = write_default_dataset(
        generate_default_dataset(GenerateConfig(**SMALL)), tmp_path / "b"
    )
    assert first == second
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")
    other = generate_default_dataset(GenerateConfig(**SMALL, seed=14))
    write_default_dataset(other, tmp_path / "c")
    assert _hashes(tmp_path / "c")["candidates.csv"] != _hashes(tmp_path / "a")["candidates.csv"]


def test_candidate_pool_does_not_depend_on_query_settings(small: DefaultDataset) -> None:
    fewer = generate_default_dataset(GenerateConfig(**{**SMALL, "n_queries": 5}))
    pd.testing.assert_frame_equal(small.candidates, fewer.candidates)


def test_counts_and_columns(small: DefaultDataset) -> None:
    c = small.candidates
    assert list(c.columns) == ["id", "title", "location", "screening_score"]
    assert len(c) >= SMALL["n_candidates"] and c["id"].is_unique
    assert c["id"].str.fullmatch(r"c\d{5}").all()
    scores = c["screening_score"]
    assert scores.dropna().between(0, 100).all() and scores.isna().any()
    assert (scores.dropna() == scores.dropna().round(1)).all()
    assert c["location"].nunique() >= 30
    assert len(small.queries) >= SMALL["n_queries"]
    assert list(small.queries.columns) == ["query_id", "query", "split"]
    assert list(small.labels.columns) == ["id", "occupation", "category", "title_source"]


def test_headlines_are_messy(small: DefaultDataset) -> None:
    titles = small.candidates["title"]
    lower = titles.str.lower()
    assert lower.str.contains("aspiring").sum() >= 20
    assert lower.str.contains("seeking").any()
    assert titles.str.contains("|", regex=False).sum() >= 20
    assert titles.str.contains(r"\b(?:Sr\.|HR|Mgr\.|Asst\.|Coord\.|VP)", regex=True).any()
    assert (titles == titles.str.upper()).sum() >= 5  # all-caps (and the bad titles)
    assert (titles == titles.str.lower()).sum() >= 10  # lower-case variants
    duplicated = small.candidates.duplicated(["title", "location", "screening_score"], keep=False)
    assert duplicated.sum() >= 2 * round(SMALL["n_candidates"] * 0.03)
    assert titles.isin(BAD_TITLES).sum() == round(SMALL["n_candidates"] * 0.004)


def test_typos_are_out_of_vocabulary_words() -> None:
    vocabulary = _vocabulary()

    def unknown(ds: DefaultDataset) -> int:
        return sum(bool(_tokens(t) - vocabulary) for t in ds.candidates["title"])

    assert unknown(generate_default_dataset(GenerateConfig(**SMALL, typo_rate=0.0))) == 0
    assert unknown(generate_default_dataset(GenerateConfig(**SMALL))) >= 10


def test_add_typo_keeps_word_edges() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        out = add_typo("Recruiter at HR", rng)
        word = out.split(" ")[0]
        assert out.endswith(" at HR") and word != "Recruiter"
        assert word[0] == "R" and word[-1] == "r" and abs(len(word) - 9) <= 1
    assert add_typo("HR Rep", rng) == "HR Rep"  # no word of 5+ letters


def test_judgments(small: DefaultDataset) -> None:
    qrels = small.qrels
    assert set(qrels["grade"]) <= {1, 2, 3} and set(qrels["grade"]) == {1, 2, 3}
    assert not qrels.duplicated(["query_id", "candidate_id"]).any()
    top = qrels[qrels["grade"] == 3].groupby("query_id").size()
    assert set(top.index) == set(small.queries["query_id"])
    assert (top >= 5).all()
    bad_ids = set(small.candidates["id"]) - set(small.labels["id"])
    bad_titles = small.candidates.set_index("id").loc[sorted(bad_ids), "title"]
    assert bad_titles.isin(BAD_TITLES).all() and len(bad_ids) > 0
    assert not set(qrels["candidate_id"]) & bad_ids
    # Grades agree with the labels.
    occupations = _query_occupations(small)
    categories = dict(zip(small.labels["occupation"], small.labels["category"], strict=True))
    joined = qrels.merge(small.labels, left_on="candidate_id", right_on="id").sample(
        300, random_state=0
    )
    for qid, occ, grade in zip(
        joined["query_id"], joined["occupation"], joined["grade"], strict=True
    ):
        assert occupation_grade(occupations[qid], occ, categories) == grade


def test_splits_and_client_queries(small: DefaultDataset) -> None:
    q = small.queries
    assert set(q["split"]) <= {"train", "validation", "test"}
    assert q["query_id"].is_unique and q["query"].is_unique
    assert (q["split"] == "train").sum() == round(0.6 * len(q))
    client = q[q["query"].isin(CLIENT_QUERIES)]
    assert sorted(client["query"]) == sorted(CLIENT_QUERIES)
    assert (client["split"] == "test").all()
    occupations = _query_occupations(small)
    assert {occupations[qid] for qid in client["query_id"]} == {CLIENT_OCCUPATION}


def test_held_out_query_titles_never_appear_in_candidates(small: DefaultDataset) -> None:
    occupations = _query_occupations(small)
    headlines = "\n".join(small.candidates["title"]).lower()
    sources = set(small.labels["title_source"].str.lower())
    held_out = [
        text
        for qid, text in zip(small.queries["query_id"], small.queries["query"], strict=True)
        if text not in CLIENT_QUERIES and text != singular_name(occupations[qid])
    ]
    assert held_out, "some queries should be phrased as held-out BLS titles"
    bls = set(load_bls_titles()["raw"].str.lower())
    for text in held_out:
        assert text in bls
        assert text not in sources
        assert re.search(rf"(?<![a-z0-9]){re.escape(text)}(?![a-z0-9])", headlines) is None


def test_written_files_round_trip(small: DefaultDataset, tmp_path: Path) -> None:
    counts = write_default_dataset(small, tmp_path)
    assert counts["candidates"] == len(small.candidates) and counts["qrels"] == len(small.qrels)
    header = (tmp_path / "queries.tsv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "query_id\tquery\tsplit"
    back = pd.read_csv(tmp_path / "candidates.csv", dtype={"id": str, "title": str},
                       keep_default_na=False, na_values={"screening_score": [""]})  # fmt: skip
    assert list(back["title"]) == list(small.candidates["title"])
    assert np.allclose(back["screening_score"], small.candidates["screening_score"], equal_nan=True)
    queries = read_queries(tmp_path / "queries.tsv")
    assert list(queries["query"]) == list(small.queries["query"])
    qrels = read_qrels(tmp_path / "qrels.txt")
    assert sum(len(v) for v in qrels.values()) == len(small.qrels)
    first = (tmp_path / "qrels.txt").read_text().splitlines()[0].split(" ")
    assert len(first) == 4 and first[1] == "0"


def test_bad_titles_are_exactly_the_rows_cleaning_rejects(small: DefaultDataset, tmp_path) -> None:
    from shortlister.data.clean import CleanConfig, clean_candidates
    from shortlister.data.loader import load_candidates

    write_default_dataset(small, tmp_path)
    result = clean_candidates(load_candidates(tmp_path / "candidates.csv"), CleanConfig())
    assert set(result.rejects["id"]) == set(small.candidates["id"]) - set(small.labels["id"])


def test_default_config_is_large_enough() -> None:
    ds = generate_default_dataset(GenerateConfig())
    assert len(ds.candidates) >= 5000
    assert len(ds.queries) >= 60
    assert set(ds.queries["split"]) == {"train", "validation", "test"}


def test_related_occupations() -> None:
    assert content_stems("Civil engineers") & content_stems("Civil engineering technicians")
    categories = {
        "Human resources specialists": "B",
        "Human resources managers": "M",
        "Tellers": "B",
    }
    assert (
        occupation_grade("Human resources specialists", "Human resources managers", categories) == 2
    )
    assert occupation_grade("Human resources specialists", "Tellers", categories) == 1
    assert occupation_grade("Tellers", "Human resources managers", categories) == 0
    assert not content_stems("Budget analysts") & content_stems("Financial analysts")


def test_singular_names() -> None:
    assert singular_name("Human resources specialists") == "human resources specialist"
    assert singular_name("Physicians and surgeons") == "physician and surgeon"
    assert singular_name("Waiters and waitresses") == "waiter and waitress"
    assert singular_name("Coaches and scouts") == "coach and scout"


@pytest.mark.parametrize(
    "bad",
    [
        {"n_queries": 2},
        {"n_candidates": 0},
        {"split_fractions": (0.5, 0.5)},
        {"split_fractions": (0.6, 0.3, 0.3)},
        {"typo_rate": 1.5},
        {"hr_boost": 0},
        {"seed": -1},
        {"n_queries": True},
        {"bad_title_rate": 0.3, "duplicate_rate": 0.3},
    ],
)
def test_config_validation(bad: dict) -> None:
    with pytest.raises(ConfigError):
        GenerateConfig(**bad)


def test_split_fractions_accept_a_list() -> None:
    assert GenerateConfig(split_fractions=[0.5, 0.25, 0.25]).split_fractions == (0.5, 0.25, 0.25)


def test_too_few_candidates_for_the_queries_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="n_queries"):
        generate_default_dataset(GenerateConfig(n_candidates=800, n_queries=300))
