"""Read a ranking back from whatever a model wrote: always a permutation of the input ids.

Repair rules, in order (docs/llm_ranking.md explains them with examples):

1. Reasoning is dropped: `<think>...</think>` blocks, an unclosed `<think>` to the end of
   the text (the model ran out of tokens while thinking), and everything before an
   orphan `</think>` (templates that open the block in the prompt, e.g. DeepSeek-R1).
2. The answer is the LAST line carrying the answer prefix (`Ranking:`; markdown such as
   `**Ranking:**` and case are tolerated) that names at least one input id: models often
   repeat the prompt, whose example line also starts with the prefix. When that line is
   empty after the prefix, the list below it is read, one id per line (the first id of
   each line, so explanations that mention other ids are ignored), up to a blank line.
3. Without such a line, every input id in the text counts, in order of appearance.
4. Ids match as whole tokens (`c1` never inside `c10`), case-insensitively, wherever they
   stand: markdown, numbered lists, brackets, quotes, JSON arrays, `c3: Nurse` echoes.
   Titles are never read, so a model pairing an id with another candidate's title cannot
   move that title: the id is what counts.
5. Ids not in the input are dropped (counted as unknown when they look like input ids),
   repeats are dropped (counted as duplicates), and input ids the answer left out follow
   in their input (prior) order (counted as filled).

`clean` means no repair was needed: an answer line was found, it named no unknown id and
no id twice, and it listed at least `k` valid ids (`k` = what the prompt asked for,
default all). Reasoning or chatter around a clean answer line is fine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from shortlister.llm.prompts import PromptTemplate

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)
# Characters that never belong to an id but may wrap one (markdown, quotes, brackets).
_NOT_ID_CHARS = set(".,;:!?()[]{}<>\"'`*_#|/\\ \t\n")


@dataclass
class ParseResult:
    """A ranking read from an answer, and what had to be repaired to get it."""

    ids: list[str]  # always a permutation of the input ids
    clean: bool  # no repair needed (see module docstring)
    n_found: int  # valid, distinct ids the answer gave, in its order
    n_unknown: int  # id-like tokens that are not input ids (invented or mangled)
    n_duplicates: int  # repeats of ids already given
    n_filled: int  # input ids appended in prior order because the answer left them out
    answer_line: bool  # an answer line with the prefix and a valid id was found
    issues: list[str] = field(default_factory=list)

    @property
    def repaired(self) -> bool:
        return not self.clean


def parse_ranking(
    text: str | None,
    input_ids: Sequence[str],
    template: PromptTemplate | None = None,
    k: int | None = None,
) -> ParseResult:
    """The ranking in `text` as a permutation of `input_ids` (see the module docstring).

    `k`: how many ids the prompt asked for (default all); listing `k` valid ids is complete.
    """
    input_ids = [str(i) for i in input_ids]
    if len(set(input_ids)) != len(input_ids):
        raise ValueError("parse_ranking: input_ids must be distinct")
    template = template or PromptTemplate()
    matcher = IdMatcher(input_ids)
    body, think_issue = strip_reasoning(text or "")
    issues = [think_issue] if think_issue else []
    segment = answer_segment(body, matcher, template.answer_prefix)
    if segment is None:
        issues.append("no answer line" if body.strip() else "empty answer")
        tokens = matcher.find(body)
    else:
        tokens = segment
    return _result(tokens, input_ids, matcher, segment is not None, k, issues)


def strip_reasoning(text: str) -> tuple[str, str | None]:
    """The text without `<think>` reasoning, and a note when the reasoning was unclosed."""
    note = None
    text = _THINK_BLOCK.sub("\n", text)
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:  # the opening tag was in the prompt
        text = text[closes[-1].end() :]
    opened = _THINK_OPEN.search(text)
    if opened:
        text = text[: opened.start()]
        note = "unclosed <think> (answer cut off while reasoning?)"
    return text, note


def answer_prefix_pattern(prefix: str) -> re.Pattern[str]:
    """`Ranking:` and its markdown variants (`**Ranking:**`, `**Ranking**:`, `ranking :`)."""
    word = re.escape(prefix.strip().rstrip(":").strip())
    return re.compile(rf"(?<![\w]){word}[ \t*_`]*[:：][ \t*_`]*", re.IGNORECASE)


def answer_segment(body: str, matcher: IdMatcher, prefix: str) -> list[Token] | None:
    """Id tokens of the last prefixed answer that names a valid id; None when there is none."""
    for match in reversed(list(answer_prefix_pattern(prefix).finditer(body))):
        line_end = body.find("\n", match.end())
        line_end = len(body) if line_end < 0 else line_end
        tokens = matcher.find(body[match.end() : line_end])
        if not any(t.id for t in tokens) and not body[match.end() : line_end].strip(" *_`"):
            tokens = list_below(body[line_end:], matcher)
        if any(t.id for t in tokens):
            return tokens
    return None


def list_below(text: str, matcher: IdMatcher) -> list[Token]:
    """The first id token of each line of the list under an empty answer line."""
    tokens: list[Token] = []
    for line in text.lstrip("\n").splitlines():
        if not line.strip():
            if tokens:
                break
            continue
        found = matcher.find(line)
        if found:
            tokens.append(found[0])
    return tokens


@dataclass(frozen=True)
class Token:
    text: str  # as written
    id: str | None  # the input id it names; None for an unknown id-like token


class IdMatcher:
    """Finds input ids (and tokens shaped like them) as whole tokens, case-insensitively."""

    def __init__(self, input_ids: Sequence[str]) -> None:
        self.exact = {i: i for i in input_ids}
        lowered: dict[str, list[str]] = {}
        for i in input_ids:
            lowered.setdefault(i.lower(), []).append(i)
        # A case-insensitive hit names an id only when no two ids differ just by case.
        self.folded = {low: ids[0] for low, ids in lowered.items() if len(ids) == 1}
        inner = {c for i in input_ids for c in i if not c.isalnum() and c not in _NOT_ID_CHARS}
        edge = "\\w" + "".join(re.escape(c) for c in sorted(inner))
        alternatives = [re.escape(i) for i in sorted(input_ids, key=len, reverse=True)]
        alternatives += sorted(id_shapes(input_ids), key=len, reverse=True)
        body = "|".join(alternatives)
        self.pattern = re.compile(rf"(?<![{edge}])(?:{body})(?![{edge}])", re.IGNORECASE)

    def find(self, text: str) -> list[Token]:
        if not self.exact:
            return []
        return [Token(m.group(0), self.lookup(m.group(0))) for m in self.pattern.finditer(text)]

    def lookup(self, token: str) -> str | None:
        return self.exact.get(token) or self.folded.get(token.lower())


def id_shapes(input_ids: Sequence[str]) -> set[str]:
    """Regexes for tokens that look like input ids (`c04565` -> `c\\d+`), to count inventions.

    Ids made only of digits give no shape: list numbers and years would count as invented.
    """
    shapes = set()
    for i in input_ids:
        shape = re.sub(r"\d+", r"\\d+", re.escape(i))
        if "\\d+" in shape and shape != "\\d+":
            shapes.add(shape)
    return shapes


def _result(
    tokens: list[Token],
    input_ids: list[str],
    matcher: IdMatcher,
    answer_line: bool,
    k: int | None,
    issues: list[str],
) -> ParseResult:
    found: list[str] = []
    seen: set[str] = set()
    n_unknown = n_duplicates = 0
    for token in tokens:
        if token.id is None:
            n_unknown += 1
        elif token.id in seen:
            n_duplicates += 1
        else:
            seen.add(token.id)
            found.append(token.id)
    filled = [i for i in input_ids if i not in seen]
    needed = len(input_ids) if k is None else max(0, min(k, len(input_ids)))
    if n_unknown:
        issues.append(f"{n_unknown} unknown id(s) dropped")
    if n_duplicates:
        issues.append(f"{n_duplicates} duplicate id(s) dropped")
    if len(found) < needed:
        issues.append(f"{needed - len(found)} missing id(s) filled in prior order")
    clean = answer_line and not n_unknown and not n_duplicates and len(found) >= needed
    return ParseResult(
        ids=found + filled,
        clean=clean,
        n_found=len(found),
        n_unknown=n_unknown,
        n_duplicates=n_duplicates,
        n_filled=len(filled),
        answer_line=answer_line,
        issues=issues,
    )
