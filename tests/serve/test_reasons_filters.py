"""Why a result is listed (reasons), plain method labels, and /rank's filters, sort, groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient

import shortlister.ranking.ltr.io as ltr_io
from shortlister.ranking.indexed import SparseScores
from shortlister.ranking.starred import StarredRanking
from shortlister.serve.app import create_app
from shortlister.serve.facets import PoolFacets
from shortlister.serve.labels import METHOD_LABELS, method_label
from shortlister.serve.method_state import MethodState
from shortlister.serve.reasons import shared_words
from shortlister.serve.refine import refine
from shortlister.serve.settings import ServeSettings
from shortlister.serve.state import build_state
from tests.ranking.test_ltr import HashEmbedder
from tests.ranking.tiny_ranker import train_tiny_ranker, write_pool
from tests.serve.helpers import LOCAL_URL, rank_ok, tfidf_settings

QUERY = "aspiring human resources"
ASPIRING = "Aspiring Human Resources Professional"
ROWS = [  # id, title, location, screening score
    ("h01", "HR Manager", "London, United Kingdom", 80.0),
    ("h02", "Human Resources Assistants", "Toronto, Ontario, Canada", 55.0),
    ("h03", ASPIRING, "Houston, Texas", 70.0),
    ("h04", ASPIRING, "Berlin, Germany", 40.0),
    ("h05", "aspiring human  resources professional", "Houston, Texas", None),
    ("h06", ASPIRING, "Austin, Texas", 90.0),
    ("h07", "Senior Software Engineer", "Bengaluru, Karnataka, India", 60.0),
    ("h08", "Software Engineers", "Seattle, Washington", 65.0),
    ("h09", "Registered Nurse", "Remote", 75.0),
    ("h10", "Nurse Practitioner", "Chicago, Illinois", 30.0),
    ("h11", "Human Resources Business Partner", "Mumbai, India", 85.0),
    ("h12", "Aspiring Teacher", "Paris, France", 50.0),
]


def _ids(result: dict) -> list[str]:
    return [item["id"] for item in result["items"]]


@pytest.fixture(scope="module")
def hr_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("hr") / "candidates.csv"
    frame = pd.DataFrame(ROWS, columns=["id", "title", "location", "screening_score"])
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def hr(hr_csv):
    state = build_state(tfidf_settings(hr_csv))
    return state, TestClient(create_app(state.settings, state=state), base_url=LOCAL_URL)


@pytest.fixture(scope="module")
def big(small_pool_csv):
    state = build_state(tfidf_settings(small_pool_csv))
    return state, TestClient(create_app(state.settings, state=state), base_url=LOCAL_URL)


# --- reasons ------------------------------------------------------------------------------


def test_shared_words_and_spans_follow_the_matching_normalisation(hr):
    _, client = hr
    items = {i["id"]: i for i in rank_ok(client, query="HR", top_k=12)["items"]}
    manager = items["h01"]  # "HR Manager", shown as cleaned: "Human Resources Manager"
    assert manager["title"] == "Human Resources Manager"
    assert manager["reasons"]["shared_words"] == ["human", "resources"]
    assert manager["reasons"]["highlights"] == [[0, 15]]
    assistants = items["h02"]["reasons"]
    assert assistants["shared_words"] == ["human", "resources"]
    assert items["h07"]["reasons"]["shared_words"] == []
    assert items["h07"]["reasons"]["highlights"] == []
    # Plurals fold both ways; function words are not listed.
    result = rank_ok(client, query="human resources assistant of the engineer", top_k=12)
    items = {i["id"]: i for i in result["items"]}
    reasons = items["h02"]["reasons"]
    assert reasons["shared_words"] == ["human", "resources", "assistant"]
    title = items["h02"]["title"]
    assert [title[a:b] for a, b in reasons["highlights"]] == ["Human Resources Assistants"]
    engineers = items["h08"]
    assert engineers["reasons"]["shared_words"] == ["engineer"]
    assert [engineers["title"][a:b] for a, b in engineers["reasons"]["highlights"]] == ["Engineers"]


def test_spans_split_on_anything_but_spaces_and_fold_accents():
    terms = {"human": "human", "resource": "resources", "cafe": "cafe"}
    words, spans = shared_words("Human-Resources at Café", terms)
    assert words == ["human", "resources", "cafe"]
    assert spans == [(0, 5), (6, 15), (19, 23)]


def test_closest_star_is_the_most_similar_starred_candidate(hr):
    state, client = hr
    stars = ["h07", "h09"]
    result = rank_ok(client, query="software engineer", stars=stars, top_k=12)
    matrix = state.methods["tfidf"].ranker.matrix
    rows = state.positions
    for item in result["items"]:
        near = item["reasons"]["closest_star"]
        me = rows[item["id"]]
        candidates = [s for s in stars if s != item["id"]]
        sims = {s: float((matrix[me] @ matrix[rows[s]].T).toarray()[0, 0]) for s in candidates}
        best = max(sims, key=sims.get)
        assert near["id"] == best and near["similarity"] == pytest.approx(sims[best], abs=1e-5)
        assert near["title"] == state.rows[rows[best]]["title"]
    by_id = {i["id"]: i for i in result["items"]}
    assert by_id["h08"]["reasons"]["closest_star"]["id"] == "h07"  # the other engineer
    assert by_id["h07"]["reasons"]["closest_star"]["id"] == "h09"  # a star: the other star
    plain = rank_ok(client, query="software engineer", top_k=5)
    assert all(i["reasons"]["closest_star"] is None for i in plain["items"])


def _assert_parts_identity(items: list[dict], w_expected: float) -> None:
    for item in items:
        parts = item["reasons"]["parts"]
        w = parts["star_weight"]
        assert w == pytest.approx(w_expected)
        blended = (1 - w) * (parts["query"] or 0.0) + w * (parts["stars"] or 0.0)
        assert item["score"] == pytest.approx(blended, abs=1e-5), item


@pytest.mark.parametrize("weight", [0.25, 0.5, 0.9])
def test_score_is_the_blend_of_its_two_parts(big, weight):
    _, client = big
    first = rank_ok(client, query=QUERY, top_k=10)
    _assert_parts_identity(first["items"], 0.0)
    assert all(i["reasons"]["parts"]["stars"] is None for i in first["items"])
    stars = _ids(first)[3:5]
    both = rank_ok(client, query=QUERY, stars=stars, star_weight=weight, top_k=20)
    _assert_parts_identity(both["items"], weight)
    alone = rank_ok(client, stars=stars, top_k=10)
    _assert_parts_identity(alone["items"], 1.0)
    assert all(i["reasons"]["parts"]["query"] is None for i in alone["items"])


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    csv, data = write_pool(tmp_path_factory.mktemp("ltr_reasons"))
    model_dir = train_tiny_ranker(csv.parent, data)
    settings = ServeSettings(
        candidates=str(csv), methods=["tfidf"], ltr_model_dir=str(model_dir), max_top_k=100
    )
    with pytest.MonkeyPatch.context() as mp:  # the ranker's SBERT: the hashed stand-in
        mp.setattr(ltr_io, "build_embedder", lambda cfg: HashEmbedder())
        state = build_state(settings)
    return state, TestClient(create_app(settings, state=state), base_url=LOCAL_URL)


def test_learned_rankers_blend_their_normalised_part(learned):
    state, client = learned
    name = state.settings.ltr_name
    raw = rank_ok(client, query=QUERY, method=name, top_k=10)
    _assert_parts_identity(raw["items"], 0.0)  # no stars: the raw learned score itself
    stars = _ids(raw)[2:4]
    both = rank_ok(client, query=QUERY, method=name, stars=stars, top_k=30)
    _assert_parts_identity(both["items"], 0.5)
    assert all(0.0 <= i["reasons"]["parts"]["query"] <= 1.0 for i in both["items"])
    methods = {m["name"]: m for m in client.get("/methods").json()["methods"]}
    assert methods[name]["label"].startswith("learned ranker")
    assert "learned ranker's own score" in methods[name]["score_scale"]


# --- labels -------------------------------------------------------------------------------


def test_every_method_has_a_plain_label():
    served = ["tfidf", "sbert", "sbert-tuned", "word2vec", "glove", "fasttext"]
    for name in [*served, "bm25", "ranknet", "lambdarank", "llm", "cross-encoder"]:
        label, description = method_label(name)
        assert label and label != name and description, name
    assert method_label("tfidf")[0] == "keywords"
    assert method_label("sbert-tuned")[0] == "meaning (tuned)"
    assert method_label("brand-new") == ("brand-new", "")  # falls back to the technical name
    assert len({label for label, _ in METHOD_LABELS.values()}) == len(METHOD_LABELS)


def test_methods_list_labels_and_the_score_scale(hr):
    state, client = hr
    methods = client.get("/methods").json()["methods"]
    assert [m["name"] for m in methods] == list(state.methods)
    tfidf = methods[0]
    assert tfidf["label"] == "keywords" and tfidf["description"]
    assert (
        tfidf["score_scale"].startswith("Match:")
        and "0 = no word in common" in (tfidf["score_scale"])
    )


# --- filters, sort, groups ----------------------------------------------------------------


def _passes(item: dict, lo: float, hi: float) -> bool:
    score = item["screening_score"]
    return item["country"] == "United States" and score is not None and lo <= score <= hi


@pytest.mark.parametrize("stars", [[], "two"])
def test_filters_give_the_best_k_that_pass(big, stars):
    state, client = big
    everyone = rank_ok(client, query=QUERY, top_k=200)
    stars = _ids(everyone)[:2] if stars else []
    everyone = rank_ok(client, query=QUERY, stars=stars, top_k=200)
    body = dict(query=QUERY, stars=stars, countries=["usa"], screening_min=20, screening_max=80)
    result = rank_ok(client, top_k=10, **body)
    rest = result["items"][len(stars) :]
    assert _ids(result)[: len(stars)] == stars  # pinned, whatever the filters
    assert len(result["items"]) == 10 and all(_passes(i, 20, 80) for i in rest)
    expected = [i["id"] for i in everyone["items"][len(stars) :] if _passes(i, 20, 80)]
    assert len(expected) >= 10 and [i["id"] for i in rest] == expected[: len(rest)]
    facets = state.facets
    us = facets.names.index("United States")
    n_passing = (facets.country == us) & (facets.screening >= 20) & (facets.screening <= 80)
    assert result["n_passing"] == int(n_passing.sum()) < result["n_candidates"]
    assert rank_ok(client, query=QUERY)["n_passing"] == result["n_candidates"]


def test_filters_return_fewer_when_fewer_pass(hr):
    _, client = hr
    result = rank_ok(client, query=QUERY, countries=["India", "Canada"], top_k=10)
    assert sorted(_ids(result)) == ["h02", "h07", "h11"] and result["n_passing"] == 3
    scored = rank_ok(client, query=QUERY, screening_min=0, top_k=20)
    assert "h05" not in _ids(scored) and scored["n_passing"] == len(ROWS) - 1  # unscored out


def test_sort_by_screening_orders_the_same_top_k(big):
    _, client = big
    body = dict(query=QUERY, top_k=15, countries=["United States"], screening_max=90)
    by_match = rank_ok(client, **body)
    by_screening = rank_ok(client, sort="screening", **body)
    assert sorted(_ids(by_match)) == sorted(_ids(by_screening))
    pairs = [(-i["screening_score"], -i["score"]) for i in by_screening["items"]]
    assert pairs == sorted(pairs)
    assert [i["rank"] for i in by_screening["items"]] == list(range(1, 16))


def test_grouping_folds_identical_headlines_and_never_a_star(hr):
    _, client = hr
    flat = rank_ok(client, query=ASPIRING, top_k=12)
    same = [i["id"] for i in flat["items"] if i["title"].casefold() == ASPIRING.casefold()]
    assert sorted(same) == ["h03", "h04", "h05", "h06"]
    grouped = rank_ok(client, query=ASPIRING, top_k=3, group_duplicates=True)
    first = grouped["items"][0]
    assert first["id"] == same[0] and first["group_size"] == 4 and first["group_ids"] == same[1:]
    assert len(grouped["items"]) == 3  # top_k counts rows after grouping
    assert all(i["group_size"] == 1 and i["group_ids"] == [] for i in grouped["items"][1:])
    assert flat["items"][0]["group_size"] == 1  # not asked: nothing folded
    starred = rank_ok(client, query=ASPIRING, stars=["h04"], top_k=3, group_duplicates=True)
    pinned, folded = starred["items"][:2]
    assert pinned["id"] == "h04" and pinned["starred"] and pinned["group_size"] == 1
    assert folded["group_size"] == 3 and "h04" not in [folded["id"], *folded["group_ids"]]
    # Groups count only the candidates that pass the filters.
    texas = rank_ok(client, query=ASPIRING, countries=["United States"], group_duplicates=True)
    assert texas["items"][0]["group_size"] == 3  # h03, h05, h06: h04 is in Germany


def test_filters_lists_countries_and_the_screening_range(hr):
    state, client = hr
    body = client.get("/filters").json()
    counts = {c["name"]: c["n"] for c in body["countries"]}
    assert counts["United States"] == 5 and counts["India"] == 2 and counts["Canada"] == 1
    assert sum(counts.values()) + body["n_unresolved"] == len(state.pool)
    assert body["n_unresolved"] == 1  # "Remote"
    assert body["screening"] == {"n_scored": len(ROWS) - 1, "min": 30.0, "max": 90.0}
    assert {"iso3": "USA", "name": "United States", "n": 5} in body["countries"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"screening_min": -1}, "screening_min"),
        ({"screening_max": 101}, "screening_max"),
        ({"screening_min": 60, "screening_max": 50}, "screening_min"),
        ({"screening_min": "50"}, "screening_min"),
        ({"sort": "age"}, "sort"),
        ({"group_duplicates": "yes"}, "group_duplicates"),
        ({"countries": "France"}, "countries"),
        ({"countries": ["Atlantis"]}, "countries"),
    ],
)
def test_bad_filter_values_are_422_naming_the_field(hr, body, field):
    _, client = hr
    response = client.post("/rank", json={"query": QUERY, **body})
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]


# --- refine: the indexed path and the second stages ---------------------------------------


class _SearchOnly:
    """A ranker that, like the indexed path, scores only the rows it returns."""

    def __init__(self, scores: np.ndarray) -> None:
        self.scores, self.calls = scores, []

    def rank_scores(self, query_scores, stars, *, k, star_weight, max_stars):
        self.calls.append(k)
        order = np.lexsort((np.arange(len(self.scores)), -self.scores))[:k]
        return StarredRanking(order, SparseScores(len(self.scores), order, self.scores[order]), 0)


class _Dense(_SearchOnly):
    def rank_scores(self, query_scores, stars, *, k, star_weight, max_stars):
        order = np.lexsort((np.arange(len(self.scores)), -self.scores))[:k]
        return StarredRanking(order, self.scores, 0)


def test_the_indexed_path_searches_deeper_until_k_pass():
    rng = np.random.default_rng(3)
    n = 400
    titles = [f"title {i % 50}" for i in range(n)]
    pool = pd.DataFrame(
        {"title": titles, "location": ["Paris, France", "Houston, Texas"] * (n // 2)}
    )
    pool["screening_score"] = rng.uniform(0, 100, n)
    facets = PoolFacets.build(pool)
    scores = rng.standard_normal(n).astype(np.float32)
    mask = facets.mask(["France"], 50, None)
    for group in (False, True):
        kw = dict(k=12, star_weight=0.5, max_stars=5, mask=mask, facets=facets, group=group)
        sparse, dense = _SearchOnly(scores), _Dense(scores)
        got, want = refine(sparse, None, [], **kw), refine(dense, None, [], **kw)
        assert got.order == want.order and len(got.order) == 12
        assert got.n_passing == want.n_passing == int(mask.sum())
        assert len(sparse.calls) > 1  # searched deeper
        assert all(mask[r] for r in got.order)
        if group:
            assert len({titles[r] for r in got.order}) == 12


class _FakeStage:
    """A second stage that reverses its head and records the rows it was handed."""

    first_stage, depth, model = "tfidf", 4, "fake"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def describe(self):
        return {
            "first_stage": self.first_stage,
            "model": self.model,
            "backend": "none",
            "scorer": "listwise",
            "depth": self.depth,
            "timeout_s": 1.0,
            "load_seconds": 0.0,
        }

    def rerank_order(self, query, order, n_starred, ids, titles, *, matched, scores):
        head = order[n_starred : n_starred + self.depth]
        self.seen = list(head)
        rest = order[n_starred + self.depth :]
        return order[:n_starred] + head[::-1] + rest, _Outcome()


class _Outcome:
    def as_dict(self):
        return {
            "status": "reranked",
            "first_stage": "tfidf",
            "model": "fake",
            "seconds": 0.0,
            "timeout_s": 1.0,
            "depth": 4,
            "cached": False,
        }


def test_second_stages_rerank_only_rows_that_pass(hr_csv):
    state = build_state(tfidf_settings(hr_csv))
    stage = _FakeStage()
    state.methods["llm"] = MethodState("llm", state.methods["tfidf"].ranker, "llm", 0.0, stage)
    client = TestClient(create_app(state.settings, state=state), base_url=LOCAL_URL)
    body = dict(query=ASPIRING, method="llm", countries=["United States"], group_duplicates=True)
    result = rank_ok(client, top_k=2, **body)
    us = state.facets.names.index("United States")
    assert stage.seen and all(state.facets.country[r] == us for r in stage.seen)
    keys = [int(state.facets.group[r]) for r in stage.seen]
    assert len(keys) == len(set(keys))  # one row per headline reaches the second stage
    assert len(result["items"]) == 2 and result["llm"]["status"] == "reranked"
    assert _ids(result) == [state.pool["id"][r] for r in stage.seen[::-1][:2]]
    llm = next(m for m in client.get("/methods").json()["methods"] if m["name"] == "llm")
    assert llm["label"] == "AI re-read (fake)"  # not the default model: named as served
    assert llm["score_scale"].startswith("Order: AI re-read (fake) of the keywords method's")
    assert "keywords method's score" in llm["score_scale"]
