from __future__ import annotations

import pytest

from shortlister.core.params import compose
from shortlister.llm.parse import parse_ranking
from shortlister.llm.prompts import PromptTemplate, build_messages, format_answer

CANDS = [("c1", "Registered  Nurse\nat Bluepeak"), ("c2", "HR Generalist"), ("c3", "Teacher")]


def test_prompt_passes_id_title_pairs_and_the_answer_format():
    messages = build_messages("aspiring human resources", CANDS)
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert "Target role: aspiring human resources" in user
    # one line per candidate, even when a title has line breaks
    assert "c1: Registered Nurse at Bluepeak\nc2: HR Generalist\nc3: Teacher" in user
    assert user.rstrip().endswith("Ranking: c1, c2, c3")
    assert "Rank the 3 candidates" in user


def test_top_k_and_long_lists():
    cands = [(f"c{i}", f"title {i}") for i in range(1, 8)]
    user = build_messages("nurse", cands, k=2)[-1]["content"]
    assert "Rank the 2 candidates" in user and "Ranking: c1, c2, c3, ..." in user


def test_format_answer_round_trips_through_the_parser():
    answer = format_answer(["c3", "c1", "c2"])
    assert answer == "Ranking: c3, c1, c2"
    assert parse_ranking(answer, ["c1", "c2", "c3"]).clean


def test_template_from_the_real_config(root):
    cfg = compose(config_dir=root / "conf")["llm"]["prompt"]
    template = PromptTemplate.from_config(cfg)
    messages = build_messages("nurse", CANDS, template)
    assert messages[-1]["content"].rstrip().endswith(f"{template.answer_prefix} c1, c2, c3")


def test_template_errors_name_the_field():
    with pytest.raises(ValueError, match="llm.prompt: unknown keys"):
        PromptTemplate.from_config({"usr": "x"})
    with pytest.raises(ValueError, match="llm.prompt.user"):
        PromptTemplate(user="no placeholders")
    with pytest.raises(ValueError, match="at least one candidate"):
        build_messages("nurse", [])


def test_without_system_turn():
    messages = build_messages("nurse", CANDS, PromptTemplate(use_system=False))
    assert [m["role"] for m in messages] == ["user"]
