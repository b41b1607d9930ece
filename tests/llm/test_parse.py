"""The parser on answers in the styles the notebook prototype met (Qwen3, Llama 3.2, Gemma 3,
Groq's llama-3.1-8b-instant and deepseek-r1-distill-llama-70b): exact outputs."""

from __future__ import annotations

import random
import string

import pytest

from shortlister.llm.parse import parse_ranking
from shortlister.llm.prompts import PromptTemplate, build_messages

IDS = ["c1", "c2", "c3", "c4", "c5"]

REPEATED_PROMPT = """Target role: aspiring human resources

Candidates (id: headline):
c1: Native English Teacher at EPIK
c2: Aspiring Human Resources Professional
c3: Registered Nurse
c4: Human Resources Generalist
c5: Software Engineer

Rank the 5 candidates who best fit the target role, best first. Use only ids from the list, \
each at most once. Answer with one line in exactly this format:
Ranking: c1, c2, c3, ...
Answer:
Ranking: c2, c4, c1, c5, c3"""

# (name, answer, expected ids, clean, (n_found, n_unknown, n_duplicates, n_filled))
CASES = [
    ("clean", "Ranking: c2, c4, c1, c5, c3", ["c2", "c4", "c1", "c5", "c3"], True, (5, 0, 0, 0)),
    (
        "qwen3 think block",
        "<think>\nThe role is HR. c1 is a teacher, c4 does HR, c2 wants HR.\n</think>\n\n"
        "Ranking: c2, c4, c1, c5, c3",
        ["c2", "c4", "c1", "c5", "c3"],
        True,
        (5, 0, 0, 0),
    ),
    (
        "deepseek-r1: reasoning closed by an orphan </think>",
        "Okay, let me see. c5 is an engineer, c3 a nurse...\n</think>\n\n"
        "Ranking: c4, c2, c3, c1, c5",
        ["c4", "c2", "c3", "c1", "c5"],
        True,
        (5, 0, 0, 0),
    ),
    (
        "unclosed think: cut off while reasoning, prior order kept",
        "<think>\nc4 is the best, then c2, then",
        IDS,
        False,
        (0, 0, 0, 5),
    ),
    (
        "llama repeats the prompt and its example line: the last answer line wins",
        REPEATED_PROMPT,
        ["c2", "c4", "c1", "c5", "c3"],
        True,
        (5, 0, 0, 0),
    ),
    (
        "markdown bold prefix and backticks",
        "Sure! Here is my ranking.\n\n**Ranking:** `c4`, `c2`, `c1`, `c3`, `c5`\n\nHope it helps!",
        ["c4", "c2", "c1", "c3", "c5"],
        True,
        (5, 0, 0, 0),
    ),
    (
        "numbered list under an empty answer line, explanations mention other ids",
        "Ranking:\n1. **c2** - Aspiring HR (closer than c1)\n2. c4: Human Resources Generalist\n"
        "3. c1 - teacher\n4. c5\n5. c3\n\nNote: c3 is a nurse.",
        ["c2", "c4", "c1", "c5", "c3"],
        True,
        (5, 0, 0, 0),
    ),
    (
        "gemma echoes 'id: title' pairs with swapped titles: ids count, titles never",
        "Ranking: c3: Aspiring Human Resources Professional, c1: Human Resources Generalist, "
        "c2: Registered Nurse, c4: Software Engineer, c5: Native English Teacher",
        ["c3", "c1", "c2", "c4", "c5"],
        True,
        (5, 0, 0, 0),
    ),
    (
        "bullets without a prefix: ids in order of appearance",
        "- c4 (HR Generalist)\n- c2 (Aspiring HR)\n- c5\n",
        ["c4", "c2", "c5", "c1", "c3"],
        False,
        (3, 0, 0, 2),
    ),
    (
        "invented ids dropped",
        "Ranking: c2, c7, c4, c12, c1, c5, c3",
        ["c2", "c4", "c1", "c5", "c3"],
        False,
        (5, 2, 0, 0),
    ),
    (
        "duplicates dropped, missing filled in prior order",
        "Ranking: c4, c2, c4, c2, c5",
        ["c4", "c2", "c5", "c1", "c3"],
        False,
        (3, 0, 2, 2),
    ),
    (
        "truncated answer (max_new_tokens)",
        "Ranking: c2, c4, c",
        ["c2", "c4", "c1", "c3", "c5"],
        False,
        (2, 0, 0, 3),
    ),
    ("empty answer", "", IDS, False, (0, 0, 0, 5)),
    ("whitespace only", "  \n\n ", IDS, False, (0, 0, 0, 5)),
    (
        "json array without prefix",
        '```json\n["c5", "c3", "c1", "c2", "c4"]\n```',
        ["c5", "c3", "c1", "c2", "c4"],
        False,
        (5, 0, 0, 0),
    ),
    (
        "json array after the prefix is clean",
        'Ranking: ["c5", "c3", "c1", "c2", "c4"]',
        ["c5", "c3", "c1", "c2", "c4"],
        True,
        (5, 0, 0, 0),
    ),
    (
        "ids in another case and brackets",
        "RANKING: [C2], (C4), {c1}, <c5>, 'C3'",
        ["c2", "c4", "c1", "c5", "c3"],
        True,
        (5, 0, 0, 0),
    ),
    (
        "titles instead of ids: nothing to read, prior order",
        "Ranking: Aspiring Human Resources Professional, Human Resources Generalist",
        IDS,
        False,
        (0, 0, 0, 5),
    ),
    (
        "prose without prefix",
        "The best fit is c4, followed closely by c2. Others (c3, c5) are unrelated.",
        ["c4", "c2", "c3", "c5", "c1"],
        False,
        (4, 0, 0, 1),
    ),
    (
        "final ranking phrase and trailing explanation",
        "Final ranking: c2 > c4 > c1 > c3 > c5\nExplanation: c5 codes, c3 nurses.",
        ["c2", "c4", "c1", "c3", "c5"],
        True,
        (5, 0, 0, 0),
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "expected", "clean", "counts"), CASES, ids=[c[0] for c in CASES]
)
def test_recorded_answers(name, text, expected, clean, counts):
    result = parse_ranking(text, IDS)
    assert result.ids == expected
    assert result.clean is clean, result.issues
    assert (result.n_found, result.n_unknown, result.n_duplicates, result.n_filled) == counts
    assert (result.issues == []) == clean


def test_whole_token_match_c1_never_inside_c10():
    ids = ["c1", "c10", "c11"]
    result = parse_ranking("Ranking: c10, c11, c1", ids)
    assert result.ids == ["c10", "c11", "c1"] and result.clean
    assert parse_ranking("Ranking: c10", ["c1", "c2"]).n_unknown == 1
    assert parse_ranking("Ranking: c100, c1", ["c1", "c10"]).ids == ["c1", "c10"]


def test_hyphenated_ids_of_the_bls_benchmark():
    ids = ["bls-00021", "bls-00017", "bls-00002"]
    result = parse_ranking("Ranking: bls-00017, bls-00099, BLS-00021", ids)
    assert result.ids == ["bls-00017", "bls-00021", "bls-00002"]
    assert (result.n_unknown, result.n_filled) == (1, 1)


def test_top_k_prompt_listing_k_ids_is_clean():
    result = parse_ranking("Ranking: c4, c2", IDS, k=2)
    assert result.clean and result.ids == ["c4", "c2", "c1", "c3", "c5"] and result.n_filled == 3
    assert not parse_ranking("Ranking: c4", IDS, k=2).clean


def test_custom_answer_prefix():
    template = PromptTemplate(answer_prefix="Answer:")
    assert parse_ranking("Answer: c3, c2, c1, c5, c4", IDS, template).clean
    assert not parse_ranking("Ranking: c3, c2, c1, c5, c4", IDS, template).answer_line


def test_repeated_prompt_built_by_our_own_template_parses():
    """Base models echo the whole prompt; its example line must not be taken as the answer."""
    cands = [(i, f"title {i}") for i in IDS]
    prompt = build_messages("nurse", cands)[-1]["content"]
    result = parse_ranking(prompt + "\nRanking: c3, c5, c1, c2, c4", IDS)
    assert result.ids == ["c3", "c5", "c1", "c2", "c4"] and result.clean


def test_duplicate_input_ids_are_rejected():
    with pytest.raises(ValueError, match="distinct"):
        parse_ranking("Ranking: c1", ["c1", "c1"])


def test_empty_input():
    result = parse_ranking("Ranking: c1", [])
    assert result.ids == [] and result.n_unknown == 0


def _garbage(rng: random.Random, ids: list[str]) -> str:
    alphabet = string.printable + "<>think/*`[]:,"
    parts = []
    for _ in range(rng.randint(0, 30)):
        roll = rng.random()
        if roll < 0.4:
            parts.append(rng.choice(ids + ["c99", "C3", "Ranking:", "<think>", "</think>"]))
        else:
            parts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))))
    return rng.choice([" ", ", ", "\n", ""]).join(parts)


def test_property_always_a_permutation():
    rng = random.Random(0)
    for _ in range(500):
        ids = [f"c{n}" for n in rng.sample(range(1, 40), rng.randint(1, 12))]
        result = parse_ranking(_garbage(rng, ids), ids)
        assert sorted(result.ids) == sorted(ids)
        assert result.n_found + result.n_filled == len(ids)
        if result.clean:
            assert result.answer_line and result.n_filled == 0
