"""`shortlister rank --llm-backend openai` against a real `transformers serve` on 127.0.0.1,
serving the packaged gemma3-270m (a base model: the completions endpoint).

Slow: the server takes 15-30 s to load the model, and a 2-core CPU generates a few
tokens a second.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from shortlister.cli import main
from shortlister.llm.backends import build_backend
from shortlister.llm.config import LLMConfig
from shortlister.llm.models import model_available, resolve_model
from shortlister.llm.parse import parse_ranking
from shortlister.llm.prompts import build_messages
from shortlister.llm.serve_process import TransformersServer, serve_available
from tests.llm.test_cli_llm import ROW
from tests.llm.test_cli_llm import ROWS as CLI_ROWS

pytestmark = pytest.mark.slow

ROWS = CLI_ROWS[:6]  # the CLI tests' candidates; one window of 6 fits a fast test


@pytest.fixture(scope="module")
def server() -> Iterator[TransformersServer]:
    ok, reason = serve_available()
    if not ok:
        pytest.skip(f"transformers serve cannot run here: {reason}")
    cache = LLMConfig().model_cache
    ok, reason = model_available("gemma3-270m", cache)
    if not ok:
        pytest.skip(f"the packaged gemma3-270m is missing: {reason}")
    # float32: bfloat16 matmuls are slower on a CPU without native bf16 support.
    process = TransformersServer(resolve_model("gemma3-270m", cache), dtype="float32")
    process.start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def _no_key_and_a_wrong_base_url(monkeypatch) -> None:
    """No key at all (a local server needs none), and an $OPENAI_BASE_URL the flag must beat."""
    for env in ("GROQ_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")


def test_the_answer_parses_into_a_permutation(server):
    cfg = LLMConfig.from_config({"backend": "openai", "max_new_tokens": 48, "openai": {
        "base_url": server.base_url, "base_url_env": None, "model": server.model,
        "endpoint": "completions"}})  # fmt: skip
    backend = build_backend(cfg)
    [gen] = backend.generate([build_messages("human resources", ROWS[:4])])
    assert gen.text.startswith("Ranking:") and "\n" not in gen.text
    assert gen.completion_tokens and gen.completion_tokens <= 48
    parsed = parse_ranking(gen.text, [cid for cid, _ in ROWS[:4]])
    assert sorted(parsed.ids) == ["c1", "c2", "c3", "c4"] and parsed.answer_line


def test_rank_through_the_cli(server, tmp_path):
    pool = tmp_path / "cands.csv"
    with pool.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "title", "location"])
        writer.writerows((cid, title, "Houston, Texas") for cid, title in ROWS)
    args = ["rank", "--candidates", str(pool), "--method", "llm", "--first-stage", "tfidf",
            "--llm-backend", "openai", "--llm-base-url", server.base_url,
            "--llm-endpoint", "completions", "--llm-model", server.model,
            "--rerank-depth", "6", "--llm-window", "6", "--llm-step", "5",
            "--query", "human resources", "--top-k", "6"]  # fmt: skip
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path):
        result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"@{server.base_url} re-ranked the top 6 for 1 query in 1 calls" in result.output
    ids = [m.group(1) for m in map(ROW.match, result.output.splitlines()) if m]
    assert sorted(ids) == [cid for cid, _ in ROWS]
