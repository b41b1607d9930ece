"""Queries are normalised exactly as titles are at every pipeline entry (issue 13, req. 5).

The stages read queries only through `data.datasets`, which normalises them with
`normalise_query` and the params' `data.clean`; so an abbreviation ranks, scores and is
prompted exactly as its expansion, for every embedding method and in the LLM prompts.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shortlister.core.errors import DataError
from shortlister.core.params import compose, load_params
from shortlister.data.clean import CleanConfig, clean_candidates, normalise_query
from shortlister.data.datasets import QUERY_RAW, default_dataset, external_datasets
from shortlister.data.default.build import generate_default_dataset
from shortlister.data.default.config import GenerateConfig
from shortlister.embeddings.base import available_methods
from shortlister.evaluation.trec import read_run, write_qrels, write_run
from shortlister.llm.backends import Generation
from shortlister.llm.finetune import device as finetune_device
from shortlister.llm.finetune.data import read_examples
from shortlister.ranking.pool import CandidatePool
from shortlister.stages import embed, llm, rank
from shortlister.stages import finetune as finetune_stage

ROOT = Path(__file__).resolve().parents[2]
# (query, its expansion): each pair must rank identically once normalised.
PAIRS = [("hr", "human resources"), ("Sr. Mgr", "senior manager")]
# Small and quick: the methods' behaviour is under test, not their vectors' quality.
FAST = {
    "word2vec": {"vector_size": 16, "epochs": 5, "corpus": {}},
    "glove": {"vector_size": 16, "epochs": 2, "batch_size": 4096, "corpus": {}},
    "fasttext": {"vector_size": 16, "epochs": 5, "bucket": 2000, "corpus": {}},
    "sbert": {"cache_dir": None},
    "sbert-tuned": {"cache_dir": None},
}
TITLES = ["Human Resources Manager", "Senior Manager, Sales", "Registered Nurse",
          "Human Resources Generalist", "Teacher", "Software Engineer", "Recruiter",
          "Senior Human Resources Business Partner", "Accountant", "Cook"]  # fmt: skip
QUERIES = [("q1", "HR Mgr", "test"), ("q2", "Human Resources Manager", "test"),
           ("q3", "Ｓｒ. Mgr", "train"), ("q4", "nurse\x00", "validation")]  # fmt: skip


def _write_queries(path: Path, queries: list[tuple[str, ...]], header="query_id\tquery\tsplit"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *("\t".join(q) for q in queries)]) + "\n", "utf-8")


@pytest.fixture()
def params(tmp_path: Path) -> dict:
    """A default dataset of 10 candidates and 4 messy queries, real `data.clean` defaults."""
    paths = {k: str(tmp_path / k) for k in ("raw_default", "interim", "external", "embeddings",
                                             "models", "runs", "reports")}  # fmt: skip
    ids = [f"c{i}" for i in range(1, len(TITLES) + 1)]
    (tmp_path / "interim").mkdir()
    pd.DataFrame({"id": ids, "title": TITLES}).to_parquet(tmp_path / "interim/candidates.parquet")
    _write_queries(tmp_path / "raw_default/queries.tsv", QUERIES)
    write_qrels(tmp_path / "raw_default/qrels.txt", {q: {"c1": 3, "c4": 2} for q, *_ in QUERIES})
    return {
        "seed": 13,
        "paths": paths,
        "data": {"clean": load_params(ROOT / "params.yaml")["data"]["clean"], "external": {}},
        "evaluation": {"run_depth": 10},
        "methods": {"tfidf": {"name": "tfidf"}},
    }


# ---------------------------------------------------------------------------- datasets


def test_default_dataset_gives_normalised_queries_and_keeps_the_raw_text(params) -> None:
    queries = default_dataset(params).queries
    assert list(queries.columns) == ["query_id", "query", QUERY_RAW, "split"]
    assert list(queries["query"]) == [
        "Human Resources Manager",
        "Human Resources Manager",
        "Senior Manager",  # full-width letters (NFKC), then "Sr." and "Mgr" expanded
        "nurse",  # the NUL dropped
    ]
    assert list(queries[QUERY_RAW]) == [q for _, q, _ in QUERIES]
    cfg = CleanConfig(**params["data"]["clean"])
    assert list(queries["query"]) == [normalise_query(q, cfg) for _, q, _ in QUERIES]


def test_queries_follow_the_params_clean_config(params) -> None:
    params["data"]["clean"] = {**params["data"]["clean"], "extra_abbreviations": {"Mgr": "Boss"}}
    assert default_dataset(params).queries["query"][0] == "Human Resources Boss"
    params["data"]["clean"]["expand_abbreviations"] = False
    assert default_dataset(params).queries["query"][0] == "HR Mgr"


def test_external_benchmark_queries_are_normalised(params, tmp_path) -> None:
    params["data"]["external"] = {"onet": {"enabled": True}}
    root = tmp_path / "external/onet"
    root.mkdir(parents=True)
    (root / "status.json").write_text(json.dumps({"status": "ok"}))
    pd.DataFrame({"id": ["o1", "o2"], "title": ["Vice President Sales", "Cook"]}).to_csv(
        root / "candidates.csv", index=False
    )
    _write_queries(root / "queries.tsv", [("oq1", "VP  Sales", "test")])
    write_qrels(root / "qrels.txt", {"oq1": {"o1": 3}})
    [bench] = external_datasets(params)
    assert bench.queries.loc[0, "query"] == "Vice President Sales"
    assert bench.queries.loc[0, QUERY_RAW] == "VP  Sales"


def test_external_stage_cleans_benchmark_titles_with_the_params_config(params, tmp_path) -> None:
    """Titles and queries of a benchmark must see one config, or "Mgr" matches nothing."""
    from shortlister.stages import external

    source = tmp_path / "onet.tsv"
    rows = ["O*NET-SOC Code\tTitle\tAlternate Title"]
    rows += [f"11-1011.00\tChief Executives\t{t}" for t in ("CEO", "Exec Mgr", "Top Mgr", "Boss")]
    rows += [f"35-2014.00\tCooks\t{t}" for t in ("Cook", "Line Cook", "Chef")]
    source.write_text("\n".join(rows) + "\n")
    params["data"]["clean"] = {**params["data"]["clean"], "extra_abbreviations": {"Mgr": "Boss"}}
    params["data"]["external"] = {"onet": {"path": str(source), "max_queries": 5}}
    external.run(params)
    [bench] = external_datasets(params)
    titles = " ".join([*bench.candidates["title"], *bench.queries["query"]])
    assert "Mgr" not in titles and "Manager" not in titles  # "Boss", as configured
    assert "CEO" not in titles and "Chief Executive Officer" in titles


def test_a_query_with_no_text_once_normalised_is_a_data_error(params, tmp_path) -> None:
    _write_queries(
        tmp_path / "raw_default/queries.tsv", [("q1", "nurse", "test"), ("q2", " | ", "test")]
    )
    with pytest.raises(DataError, match=r"queries \['q2'\] have no text once normalised"):
        default_dataset(params)


def test_a_query_raw_column_in_the_file_is_refused(params, tmp_path) -> None:
    path = tmp_path / "raw_default/queries.tsv"
    _write_queries(path, [("q1", "hr", "hr", "test")], header="query_id\tquery\tquery_raw\tsplit")
    with pytest.raises(DataError, match="query_raw"):
        default_dataset(params)


def test_no_stage_reads_a_queries_file_itself() -> None:
    """The stages get queries from data.datasets only, so none can skip normalisation."""
    readers = []
    for path in sorted((ROOT / "src/shortlister/stages").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue  # (a `global` statement has names too: plain strings)
            if "read_queries" in [a.name for a in node.names]:
                readers.append(path.name)
    assert readers == []


def test_encoder_training_pairs_use_the_normalised_query(params) -> None:
    from shortlister.encoder.titles import default_train_table

    table, graded = default_train_table(params)  # q3, the one train query: "Ｓｒ. Mgr"
    assert set(graded["sentence1"]) == {"Senior Manager"}
    assert "Senior Manager" in set(table["title"]) and "Ｓｒ. Mgr" not in set(table["title"])


# ---------------------------------------------------------------------------- ranking


@pytest.fixture(scope="module")
def pool() -> pd.DataFrame:
    raw = generate_default_dataset(GenerateConfig(n_candidates=300, n_queries=5)).candidates
    return clean_candidates(raw, CleanConfig()).clean


def _method_config(method: str) -> dict:
    cfg = {"name": method, **FAST.get(method, {})}
    if method == "sbert-tuned":
        model = Path(load_params(ROOT / "params.yaml")["methods"]["sbert-tuned"]["model"])
        model = model if model.is_absolute() else ROOT / model
        if not model.is_dir():
            pytest.skip(f"sbert-tuned needs the trained title encoder at {model} (train_encoder)")
        cfg["model"] = str(model)
    return cfg


@pytest.mark.parametrize("method", available_methods())
def test_an_abbreviation_ranks_exactly_like_its_expansion(method, pool) -> None:
    ranker = CandidatePool.fit(pool, _method_config(method))
    for short, long in PAIRS:
        order, scores = ranker.search(normalise_query(short), k=10)
        expected_order, expected_scores = ranker.search(normalise_query(long), k=10)
        assert len(order) == 10 and np.isfinite(scores).all(), method
        assert list(order) == list(expected_order), f"{method}: {short!r} vs {long!r}"
        np.testing.assert_allclose(scores, expected_scores, rtol=0, atol=1e-6)


def test_without_normalisation_tfidf_misses_hr(pool) -> None:
    """What the normalisation fixes: the pool says "Human Resources", never "HR"."""
    ranker = CandidatePool.fit(pool, {"name": "tfidf"})
    raw_order, _ = ranker.search("hr", k=10)
    order, _ = ranker.search(normalise_query("hr"), k=10)
    assert list(raw_order) != list(order)


def test_rank_stage_ranks_an_abbreviation_as_its_expansion(params) -> None:
    embed.run(params, "tfidf")
    rank.run(params, "tfidf")
    run = read_run(Path(params["paths"]["runs"]) / "tfidf/default.trec")
    assert run["q1"] == run["q2"]  # "HR Mgr" and "Human Resources Manager"
    assert run["q1"][0][0] == "c1"


# ---------------------------------------------------------------------------- LLM prompts


class Recording:
    """An LLM backend that keeps every prompt and ranks the candidates as listed."""

    name = "recording"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def render(self, messages) -> str:
        return "\n".join(m["content"] for m in messages)

    def generate(self, batch):
        out = []
        for messages in batch:
            self.prompts.append(messages[-1]["content"])
            ids = [line.split(":")[0] for line in messages[-1]["content"].splitlines()]
            ids = [i for i in ids if i.startswith("c") and i[1:].isdigit()]
            out.append(Generation("Ranking: " + ", ".join(ids), latency_s=0.0))
        return out


def _real_conf() -> dict:
    return compose(config_dir=ROOT / "conf")


def test_llm_stage_prompts_carry_the_normalised_query(params) -> None:
    real = _real_conf()
    ids = [f"c{i}" for i in range(1, len(TITLES) + 1)]
    run = {q: [(c, 1.0 - i / 20) for i, c in enumerate(ids)] for q, *_ in QUERIES}
    write_run(Path(params["paths"]["runs"]) / "sbert/default.trec", run, tag="sbert")
    params["evaluation"] = real["evaluation"]
    params["llm"] = {
        **real["llm"],
        **{"window": 4, "step": 2, "depth": 6},
        "evaluation": {"datasets": ["default"], "splits": ["test"], "max_queries": 1},
    }
    backend = Recording()
    report = llm.run(params, backend=backend)
    assert report["status"] == "ok" and backend.prompts
    for prompt in backend.prompts:  # q1 only: "HR Mgr"
        assert "Target role: Human Resources Manager\n" in prompt and "HR Mgr" not in prompt
    sample = (Path(params["paths"]["runs"]) / "llm/prompt_listwise_zero-shot.txt").read_text()
    assert "Target role: Human Resources Manager\n" in sample


def test_finetune_prompts_carry_the_normalised_query(params, tmp_path, monkeypatch) -> None:
    real = _real_conf()
    ids = [f"c{i}" for i in range(1, len(TITLES) + 1)]
    run = {q: [(c, 1.0 - i / 20) for i, c in enumerate(ids)] for q, *_ in QUERIES}
    write_run(Path(params["paths"]["runs"]) / "sbert/default.trec", run, tag="sbert")
    params.update(evaluation=real["evaluation"], llm=real["llm"])
    params["finetune"] = {
        **real["finetune"],
        "data_dir": str(tmp_path / "data/finetune"),
        "output_dir": str(tmp_path / "models/finetune"),
        "prompts_per_query": 1,
        "candidates_per_prompt": 4,
        "answer_k": 4,
        "device": "cuda",  # absent: the data is built, nothing is trained
    }
    monkeypatch.setattr(finetune_device, "cuda_available", lambda: False)
    finetune_stage.run(params)
    [train] = read_examples(tmp_path / "data/finetune/listwise/train.jsonl")  # q3: "Ｓｒ. Mgr"
    [user] = [m["content"] for m in train["messages"] if m["role"] == "user"]
    assert "Target role: Senior Manager\n" in user and "Mgr" not in user
    pairs = read_examples(tmp_path / "data/finetune/pointwise/train.jsonl")
    assert pairs and all("Target role: Senior Manager\n" in r["messages"][0]["content"]
                         for r in pairs)  # fmt: skip
