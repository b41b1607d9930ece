"""Listwise ranking prompts: the target role plus `id: title` pairs, answered as a list of ids.

The prototype lost or invented ids and paired ids with the wrong titles when it asked for
titles back. Here the model only ever answers with ids, in one fixed line
(`Ranking: c3, c1, c2`), which `shortlister.llm.parse` reads back; titles are never parsed.
The same template builds the fine-tuning data, so a tuned model learns exactly this format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Candidate = tuple[str, str]  # (id, title)


@dataclass
class PromptTemplate:
    """Prompt text from config (`llm.prompt`); `{query}`, `{n}`, `{k}`, `{candidates}` fill in."""

    system: str = (
        "You are a recruiting assistant. You rank job candidates by how well their headline "
        "fits a target role. Answer with candidate ids only."
    )
    user: str = (
        "Target role: {query}\n\n"
        "Candidates (id: headline):\n{candidates}\n\n"
        "Rank the {k} candidates who best fit the target role, best first. "
        "Use only ids from the list, each at most once. "
        "Answer with one line in exactly this format:\n{answer_prefix} {example}"
    )
    answer_prefix: str = "Ranking:"
    separator: str = ", "
    line: str = "{id}: {title}"
    # Some chat templates (Gemma) have no system role; their template folds it into the user turn.
    use_system: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("query", "candidates"):
            if "{" + name + "}" not in self.user:
                raise ValueError(f"llm.prompt.user: expected a {{{name}}} placeholder")
        if "{id}" not in self.line or "{title}" not in self.line:
            raise ValueError("llm.prompt.line: expected {id} and {title} placeholders")
        if not self.answer_prefix.strip():
            raise ValueError("llm.prompt.answer_prefix: expected a non-empty prefix")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> PromptTemplate:
        cfg = dict(cfg or {})
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ValueError(
                f"llm.prompt: unknown keys {unknown}; expected some of {sorted(known)}"
            )
        return cls(**cfg)


def one_line(title: str) -> str:
    """A headline on one line: the prompt's `id: title` lines must stay one per candidate."""
    return " ".join(str(title).split())


def format_candidates(candidates: Sequence[Candidate], template: PromptTemplate) -> str:
    return "\n".join(template.line.format(id=cid, title=one_line(t)) for cid, t in candidates)


def format_answer(ids: Sequence[str], template: PromptTemplate | None = None) -> str:
    """The answer line a model should produce (and the fine-tuning target)."""
    template = template or PromptTemplate()
    return f"{template.answer_prefix} {template.separator.join(ids)}"


def build_messages(
    query: str,
    candidates: Sequence[Candidate],
    template: PromptTemplate | None = None,
    k: int | None = None,
) -> list[dict[str, str]]:
    """Chat messages asking for the best `k` (default: all) of `candidates` for `query`."""
    template = template or PromptTemplate()
    if not candidates:
        raise ValueError("build_messages: expected at least one candidate")
    k = len(candidates) if k is None else max(1, min(k, len(candidates)))
    example = template.separator.join(cid for cid, _ in candidates[: min(3, len(candidates))])
    user = template.user.format(
        query=one_line(query),
        candidates=format_candidates(candidates, template),
        n=len(candidates),
        k=k,
        answer_prefix=template.answer_prefix,
        example=example + (template.separator + "..." if len(candidates) > 3 else ""),
        **template.extra,
    )
    messages = [{"role": "user", "content": user}]
    if template.use_system and template.system:
        messages.insert(0, {"role": "system", "content": template.system})
    return messages
