"""Fine-tuning data for the ranking LLM: listwise ranking prompts and pointwise yes/no pairs.

Both come from the graded judgments of the *training* queries (validation records from
the validation queries); test queries, and the O*NET benchmark, are never used. A record
keeps its prompt as chat `messages` ending in the assistant's answer; `PromptBuilder`
turns it into what the model sees (a chat template or a completion prompt), the same way
as at inference.

- listwise: `candidates_per_prompt` candidates in a seeded random order, judged ones plus
  hard negatives from the first stage; the answer is the `Ranking: id, id, ...` line, best
  grade first, so the model cannot learn "the first id wins".
- pointwise: one (role, headline) pair per record, answered "Yes" (grade >=
  `pointwise_min_grade`) or "No" (an unjudged hard negative from the first stage), half
  and half.

For training, `to_prompt_completion` turns a record into trl's prompt-completion pair
through the `PromptBuilder` that `PromptSpec` describes.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shortlister.evaluation.trec import Qrels, Run
from shortlister.llm.candidates import head_ids, title_map
from shortlister.llm.finetune.config import SPLITS, FinetuneConfig
from shortlister.llm.prompts import (
    PromptBuilder,
    PromptTemplate,
    build_messages,
    format_answer,
    one_line,
)

logger = logging.getLogger(__name__)


def build_examples(
    dataset_queries: pd.DataFrame,
    candidates: pd.DataFrame | Mapping[str, str],
    qrels: Qrels,
    split: str,
    template: PromptTemplate,
    cfg: FinetuneConfig,
    seed: int | None = None,
    first_stage: Run | None = None,
) -> list[dict[str, Any]]:
    """Conversational records `{"messages": [system?, user, assistant], ...}` for one split.

    Each prompt shows `cfg.candidates_per_prompt` candidates in a seeded random order:
    judged ones (grade >= 1) plus `negatives_ratio` of unjudged ones, drawn from the
    first-stage top list (hard negatives) or the whole pool. The answer lists the best
    `answer_k` by grade, ties in a seeded order. Besides `messages`, a record keeps
    `query_id`, `split`, `candidate_ids` and `answer_ids` for checks.
    """
    if split not in SPLITS:
        raise ValueError(f"build_examples: split must be one of {list(SPLITS)}, got {split!r}")
    seed = cfg.seed if seed is None else seed
    titles = title_map(candidates)
    pool = sorted(titles)
    n_prompts = cfg.prompts_per_query if split == "train" else cfg.validation_prompts_per_query
    selected = dataset_queries[dataset_queries["split"] == split]
    records = []
    for qid, query in zip(selected["query_id"], selected["query"], strict=True):
        judged = {cid: g for cid, g in qrels.get(qid, {}).items() if g > 0 and cid in titles}
        if not judged:
            logger.warning("query %s has no judged candidate in the pool; no training prompt", qid)
            continue
        hard = head_ids(first_stage, qid, cfg.first_stage_depth)
        for j in range(n_prompts):
            rng = random.Random(f"{seed}/{split}/{qid}/{j}")
            ids = _sample_candidates(judged, hard, pool, cfg, rng)
            rng.shuffle(ids)
            answer = _best_first(ids, judged, rng)[: cfg.answer_k]
            shown = [(cid, titles[cid]) for cid in ids]
            messages = build_messages(query, shown, template, k=cfg.answer_k)
            messages.append({"role": "assistant", "content": format_answer(answer, template)})
            records.append(
                {
                    "kind": "listwise",
                    "messages": messages,
                    "query_id": qid,
                    "split": split,
                    "candidate_ids": ids,
                    "answer_ids": answer,
                }
            )
    return records


def _sample_candidates(
    judged: Mapping[str, int],
    hard: Sequence[str],
    pool: Sequence[str],
    cfg: FinetuneConfig,
    rng: random.Random,
) -> list[str]:
    n = cfg.candidates_per_prompt
    n_neg = round(n * cfg.negatives_ratio)
    # At least one judged candidate, else the answer would rank noise.
    n_pos = max(1, min(len(judged), n - n_neg))
    ids = rng.sample(sorted(judged), n_pos)
    n_neg = n - n_pos
    negatives: list[str] = []
    if cfg.negatives_from == "first_stage":
        hard_neg = [cid for cid in hard if cid not in judged]
        negatives = rng.sample(hard_neg, min(n_neg, len(hard_neg)))
    taken = set(ids) | set(negatives)
    # Fill from the whole pool (random negatives, or too few hard ones): rejection sampling
    # is cheap because the pool is far larger than a prompt.
    while len(negatives) < n_neg and len(taken) < len(pool):
        cid = pool[rng.randrange(len(pool))]
        if cid not in taken and cid not in judged:
            negatives.append(cid)
            taken.add(cid)
    return ids + negatives


def _best_first(ids: Sequence[str], grades: Mapping[str, int], rng: random.Random) -> list[str]:
    order = list(ids)
    rng.shuffle(order)  # ties end up in a seeded random order, not in prompt order
    return sorted(order, key=lambda cid: -grades.get(cid, 0))


def write_examples(records: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def read_examples(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def example_stats(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts; listwise: where the best candidate sat in the prompt (should be spread evenly);
    pointwise: the share of "Yes" answers."""
    stats: dict[str, Any] = {
        "n_records": len(records),
        "n_queries": len({r["query_id"] for r in records}),
    }
    listwise = [r for r in records if r.get("kind", "listwise") == "listwise"]
    if listwise:
        positions = [r["candidate_ids"].index(r["answer_ids"][0]) for r in listwise]
        stats["mean_best_position"] = sum(positions) / len(positions)
        stats["n_distinct_best_positions"] = len(set(positions))
    pointwise = [r for r in records if r.get("kind") == "pointwise"]
    if pointwise:
        stats["yes_share"] = sum(r["label"] for r in pointwise) / len(pointwise)
    return stats


def build_pointwise_examples(
    dataset_queries: pd.DataFrame,
    candidates: pd.DataFrame | Mapping[str, str],
    qrels: Qrels,
    split: str,
    prompt: str,
    answers: tuple[str, str],
    cfg: FinetuneConfig,
    first_stage: Run | None = None,
) -> list[dict[str, Any]]:
    """(role, headline) records answered yes/no: `pointwise_pairs_per_query` per query.

    `prompt` is `llm.pointwise.prompt` ({query}, {title}); `answers` its (yes, no). Half
    the pairs are judged >= `pointwise_min_grade`, half unjudged candidates of the first
    stage's top `first_stage_depth` (hard negatives; random ones when it has too few).
    """
    if split not in SPLITS:
        raise ValueError(f"pointwise examples: split must be one of {list(SPLITS)}, got {split!r}")
    titles = title_map(candidates)
    pool = sorted(titles)
    n_pairs = cfg.pointwise_pairs_per_query
    if split == "validation":
        n_pairs = max(2, n_pairs // 4)
    selected = dataset_queries[dataset_queries["split"] == split]
    records = []
    for qid, query in zip(selected["query_id"], selected["query"], strict=True):
        grades = {cid: g for cid, g in qrels.get(qid, {}).items() if cid in titles}
        yes = sorted(c for c, g in grades.items() if g >= cfg.pointwise_min_grade)
        if not yes:
            continue
        rng = random.Random(f"{cfg.seed}/pointwise/{split}/{qid}")
        hard = head_ids(first_stage, qid, cfg.first_stage_depth)
        no = [c for c in hard if c not in grades]
        if len(no) < n_pairs:
            no += [c for c in rng.sample(pool, min(len(pool), 4 * n_pairs)) if c not in grades]
        no = list(dict.fromkeys(no))
        picked = [(c, 1) for c in rng.sample(yes, min(len(yes), n_pairs - n_pairs // 2))]
        picked += [(c, 0) for c in rng.sample(no, min(len(no), n_pairs // 2))]
        rng.shuffle(picked)
        for cid, label in picked:
            text = prompt.format(query=one_line(query), title=one_line(titles[cid]))
            records.append(
                {
                    "kind": "pointwise",
                    "messages": [
                        {"role": "user", "content": text},
                        {"role": "assistant", "content": answers[0] if label else answers[1]},
                    ],
                    "query_id": qid,
                    "split": split,
                    "candidate_id": cid,
                    "label": label,
                }
            )
    return records


@dataclass(frozen=True)
class PromptSpec:
    """How records become model text: `PromptBuilder`'s answer prefix, format and kwargs."""

    answer_prefix: str
    format: str = "auto"
    chat_template_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def builder(self, tokenizer: Any) -> PromptBuilder:
        return PromptBuilder(
            self.answer_prefix, self.format, tokenizer, dict(self.chat_template_kwargs)
        )


def to_prompt_completion(record: Mapping[str, Any], builder: PromptBuilder) -> dict[str, Any]:
    """A record's `messages` as trl's prompt-completion pair, built by `builder`.

    trl then masks the prompt (completion-only loss) whatever the chat template; its
    `assistant_only_loss` would need `{% generation %}` markers that most templates lack.
    """
    messages = list(record["messages"])
    if not messages or messages[-1]["role"] != "assistant":
        raise ValueError("training record: expected the last message to be the assistant's answer")
    return builder.training_example(messages[:-1], messages[-1]["content"])
