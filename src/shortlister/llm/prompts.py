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


FORMATS = ("chat", "completion")


class PromptBuilder:
    """Messages to model text, the one way for inference and for fine-tuning alike.

    A model with a chat template (instruct models) gets its template, ending in the
    assistant turn. A model without one (a pretrained base such as gemma-3-270m) gets a
    completion prompt: the turns' text, then the answer prefix (`Ranking:`), so the
    model's continuation is the answer itself. `answer()` puts the prefix back on a
    completion so the parser always reads a whole answer line, and `training_example()`
    gives trl the same prompt with the target answer, so a tuned model sees at inference
    exactly what it learned.
    """

    def __init__(
        self,
        answer_prefix: str,
        fmt: str = "auto",
        tokenizer: Any = None,
        chat_template_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if fmt == "auto":
            fmt = "chat" if has_template else "completion"
        if fmt not in FORMATS:
            raise ValueError(
                f"llm.prompt_format: expected auto or one of {list(FORMATS)}, got {fmt!r}"
            )
        if fmt == "chat" and tokenizer is not None and not has_template:
            raise ValueError(
                "llm.prompt_format: chat, but the model's tokenizer has no chat template"
            )
        self.format = fmt
        self.answer_prefix = answer_prefix
        self.tokenizer = tokenizer
        self.chat_template_kwargs = dict(chat_template_kwargs or {})

    @property
    def add_special_tokens(self) -> bool:
        """A chat template writes BOS itself; a completion prompt needs the tokenizer's."""
        return self.format == "completion"

    def prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        if self.format == "completion":
            return completion_prompt(messages, self.answer_prefix)
        if self.tokenizer is None:
            raise ValueError("PromptBuilder: a chat prompt needs the model's tokenizer")
        kwargs = dict(tokenize=False, add_generation_prompt=True, **self.chat_template_kwargs)
        try:
            return self.tokenizer.apply_chat_template(list(messages), **kwargs)
        except Exception:  # jinja's TemplateError: e.g. a template without a system role
            if messages and messages[0]["role"] == "system":
                return self.tokenizer.apply_chat_template(fold_system(messages), **kwargs)
            raise

    def answer(self, generated: str) -> str:
        """The whole answer: a completion continues after the prefix, so it goes back on."""
        if self.format == "completion":
            return f"{self.answer_prefix}{generated}"
        return generated

    def training_example(self, messages: Sequence[Mapping[str, str]], answer: str) -> dict:
        """trl's prompt-completion record (completion-only loss) for the answer `answer`."""
        if self.format == "completion":
            # trl appends EOS to a text completion: the tuned model learns to stop there.
            return {
                "prompt": self.prompt(messages),
                "completion": answer_tail(answer, self.answer_prefix),
            }
        messages = list(messages)
        if self.tokenizer is not None and _rejects_system(self.tokenizer, messages):
            messages = fold_system(messages)
        return {"prompt": messages, "completion": [{"role": "assistant", "content": answer}]}


def completion_prompt(messages: Sequence[Mapping[str, str]], answer_prefix: str) -> str:
    """The turns' text, then the answer prefix the model continues."""
    return "\n\n".join(m["content"] for m in messages) + "\n\n" + answer_prefix


def answer_tail(answer: str, answer_prefix: str) -> str:
    """`Ranking: c3, c1` -> ` c3, c1`: what follows the prefix a completion prompt ends in."""
    tail = answer.removeprefix(answer_prefix)
    return tail if tail.startswith(" ") else " " + tail


def fold_system(messages: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The system turn prepended to the first user turn (for templates without a system role)."""
    system, rest = messages[0]["content"], [dict(m) for m in messages[1:]]
    if rest and rest[0]["role"] == "user":
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
        return rest
    return [{"role": "user", "content": system}, *rest]


def _rejects_system(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> bool:
    if not messages or messages[0]["role"] != "system":
        return False
    try:
        tokenizer.apply_chat_template(list(messages), tokenize=False)
    except Exception:
        return True
    return False
