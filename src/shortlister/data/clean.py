"""Normalise candidate titles and locations, expand job-title abbreviations, set aside
rows whose title cannot be ranked.

Nothing is dropped silently: every input row ends up in `CleanResult.clean` or in
`CleanResult.rejects` with a reason naming the row and field.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from shortlister.data import schema
from shortlister.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

# Keys are matched case-insensitively as whole words. A key ending in "." only matches with
# the dot, which is how "Eng." and "Tech." are told apart from the words "Eng"/"Tech".
# "IT" and "Gen." are deliberately absent: they are clearer left alone.
DEFAULT_ABBREVIATIONS: dict[str, str] = {
    "HR": "Human Resources",
    "HRBP": "Human Resources Business Partner",
    "HRIS": "Human Resources Information Systems",
    "Sr.": "Senior",
    "Sr": "Senior",
    "Jr.": "Junior",
    "Jr": "Junior",
    "Mgr.": "Manager",
    "Mgr": "Manager",
    "Mngr": "Manager",
    "Mgmt": "Management",
    "VP": "Vice President",
    "SVP": "Senior Vice President",
    "EVP": "Executive Vice President",
    "AVP": "Assistant Vice President",
    "Asst.": "Assistant",
    "Asst": "Assistant",
    "Assoc.": "Associate",
    "Dir.": "Director",
    "Coord.": "Coordinator",
    "Admin": "Administrator",
    "Exec": "Executive",
    "Dept": "Department",
    "Acct": "Account",
    "Eng.": "Engineer",
    "Engr": "Engineer",
    "Dev": "Developer",
    "Specl": "Specialist",
    "Spec.": "Specialist",
    "Tech.": "Technician",
    "Rep": "Representative",
    "Svc": "Service",
    "Svcs": "Services",
    "Ops": "Operations",
    "Mktg": "Marketing",
    "Acctg": "Accounting",
    "Intl": "International",
    "Govt": "Government",
    "Univ.": "University",
    "CEO": "Chief Executive Officer",
    "CFO": "Chief Financial Officer",
    "COO": "Chief Operating Officer",
    "CTO": "Chief Technology Officer",
    "CHRO": "Chief Human Resources Officer",
    "L&D": "Learning and Development",
    "R&D": "Research and Development",
}

# Compared after normalisation and lower-casing.
PLACEHOLDER_TITLES: frozenset[str] = frozenset(
    {
        "n/a", "na", "n.a.", "n.a", "#n/a", "none", "null", "nil", "nan",
        "-", "--", "---", ".", "..", "...", "?", "??", "tbd", "tba",
        "unknown", "not available", "not applicable",
    }
)  # fmt: skip

REJECT_CODES: tuple[str, ...] = (
    "missing_title",
    "placeholder_title",
    "no_letters",
    "title_too_long",
)

# Characters that are invisible but break string equality (zero-width space, BOM, soft
# hyphen, ...). Most are category Cf; listed so the intent is explicit.
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e")
_LINE_BREAKS = frozenset("\n\r\t\v\f\x85\u2028\u2029")
_WHITESPACE_RUN = re.compile(r"\s+")
_PIPE = re.compile(r"\s*\|\s*")
_EDGE_SEPARATORS = re.compile(r"^[\s|,\-]+|[\s|,\-]+$")


@dataclass
class CleanConfig:
    """Knobs for `clean_candidates`; validated on construction."""

    expand_abbreviations: bool = True
    # User additions; they override defaults with the same key (case-insensitively).
    extra_abbreviations: dict[str, str] = field(default_factory=dict)
    max_title_chars: int = 300
    min_letters: int = 2  # a title needs at least this many letters

    def __post_init__(self) -> None:
        if not isinstance(self.expand_abbreviations, bool):
            raise ConfigError(
                f"expand_abbreviations must be true or false, got {self.expand_abbreviations!r}"
            )
        _check_int("max_title_chars", self.max_title_chars, minimum=1)
        _check_int("min_letters", self.min_letters, minimum=0)
        if self.min_letters > self.max_title_chars:
            raise ConfigError(
                f"min_letters ({self.min_letters}) cannot exceed "
                f"max_title_chars ({self.max_title_chars})"
            )
        if not isinstance(self.extra_abbreviations, Mapping):
            raise ConfigError(
                "extra_abbreviations must be a mapping of abbreviation -> expansion, "
                f"got {type(self.extra_abbreviations).__name__}"
            )
        for key, value in self.extra_abbreviations.items():
            if not (isinstance(key, str) and key.strip()):
                raise ConfigError(f"extra_abbreviations key must be a non-empty string: {key!r}")
            if not (isinstance(value, str) and value.strip()):
                raise ConfigError(
                    f"extra_abbreviations[{key!r}] must be a non-empty string, got {value!r}"
                )

    def abbreviation_table(self) -> dict[str, str]:
        """Defaults merged with the user's additions (later keys win)."""
        return {**DEFAULT_ABBREVIATIONS, **self.extra_abbreviations}


def _check_int(name: str, value: object, *, minimum: int) -> None:
    # bool is an int subclass; `max_title_chars: true` in YAML is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclass
class CleanResult:
    """Output of `clean_candidates`."""

    clean: pd.DataFrame  # input columns plus `title_raw`; `title` is the cleaned title
    rejects: pd.DataFrame  # rejected input rows, original columns, plus `reason`
    counts: dict[str, int]


def _normalise_chars(text: str) -> str:
    """NFKC, invisible characters removed, whitespace collapsed; punctuation untouched."""
    text = unicodedata.normalize("NFKC", text)
    kept = []
    for ch in text:
        if ch in _LINE_BREAKS:
            kept.append(" ")
        elif ch in _INVISIBLE or unicodedata.category(ch) in ("Cc", "Cf"):
            continue
        else:
            kept.append(ch)
    return _WHITESPACE_RUN.sub(" ", "".join(kept)).strip()


def normalise_text(text: str) -> str:
    """Canonical form of a free-text field; keeps case and non-ASCII letters.

    NFKC (full-width letters become ASCII), control and zero-width characters dropped,
    newlines/tabs and whitespace runs become one space, spaces around ``|`` tidied to
    ``" | "``, and stray separators (``|``, ``-``, ``,``) stripped from both ends.
    """
    text = _normalise_chars(text)
    text = _PIPE.sub(" | ", text)
    return _EDGE_SEPARATORS.sub("", text)


@functools.lru_cache(maxsize=32)
def _compile_table(items: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    lookup: dict[str, str] = {}
    for key, expansion in items:
        lookup[key.lower()] = expansion  # later entries (user additions) win
    # Longest first so "HRIS" beats "HR" and "Sr." beats "Sr" at the same position.
    # A key ending in "." needs no right boundary (the dot is one), so "Sr.Manager" matches
    # "Sr." rather than "Sr"; lookarounds instead of \b because keys contain "." and "&".
    alternatives = "|".join(
        re.escape(k) + ("" if not k[-1].isalnum() else r"(?!\w)")
        for k in sorted(lookup, key=lambda k: (-len(k), k))
    )
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})", re.IGNORECASE)
    return pattern, lookup


def _match_case(original: str, expansion: str) -> str:
    """All-lower input keeps a lower-case expansion; anything else gets the table's casing."""
    letters = [c for c in original if c.isalpha()]
    if letters and all(c.islower() for c in letters):
        return expansion.lower()
    return expansion


def expand_abbreviations(text: str, table: dict[str, str] | None = None) -> tuple[str, int]:
    """Expand job-title abbreviations in one pass; returns (text, number of expansions).

    `table` defaults to `DEFAULT_ABBREVIATIONS`. Matching is case-insensitive on whole
    words; the output is never re-scanned, so an expansion cannot itself be expanded.
    """
    table = DEFAULT_ABBREVIATIONS if table is None else table
    if not table or not text:
        return text, 0
    pattern, lookup = _compile_table(tuple(table.items()))
    n = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal n
        word = match.group(0)
        expansion = _match_case(word, lookup[word.lower()])
        if not word[-1].isalnum() and match.end() < len(text) and text[match.end()].isalnum():
            expansion += " "  # "Sr.Manager" -> "Senior Manager", not "SeniorManager"
        if expansion != word:
            n += 1
        return expansion

    return pattern.sub(replace, text), n


@dataclass
class _TitleVerdict:
    title: str
    n_expanded: int
    changed: bool
    code: str | None = None
    detail: str = ""


def _judge_title(raw: object, cfg: CleanConfig, table: dict[str, str]) -> _TitleVerdict:
    """Clean one title, or say which reject code applies and why."""
    raw_text = "" if _is_missing(raw) else str(raw)
    basic = _normalise_chars(raw_text)
    # Check placeholders before separators are stripped, otherwise "-" would look empty.
    if basic.lower() in PLACEHOLDER_TITLES:
        return _TitleVerdict("", 0, True, "placeholder_title", f"{basic!r} is a placeholder")
    title = normalise_text(raw_text)
    changed = title != raw_text
    if not title:
        detail = "title is missing" if not raw_text.strip() else f"{raw_text!r} has no text"
        return _TitleVerdict("", 0, changed, "missing_title", detail)
    letters = sum(ch.isalpha() for ch in title)
    if letters < cfg.min_letters:
        detail = f"{title!r} has {letters} letter(s), expected at least {cfg.min_letters}"
        return _TitleVerdict(title, 0, changed, "no_letters", detail)
    # Length is judged on what the candidate wrote, before expansion lengthens it.
    if len(title) > cfg.max_title_chars:
        detail = (
            f"title has {len(title)} characters, expected at most {cfg.max_title_chars} "
            "(max_title_chars)"
        )
        return _TitleVerdict(title, 0, changed, "title_too_long", detail)
    n_expanded = 0
    if cfg.expand_abbreviations:
        title, n_expanded = expand_abbreviations(title, table)
    return _TitleVerdict(title, n_expanded, changed)


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-like cells
        return False


def _clean_location(value: object) -> str:
    return "" if _is_missing(value) else normalise_text(str(value))


def clean_candidates(df: pd.DataFrame, cfg: CleanConfig | None = None) -> CleanResult:
    """Normalise titles and locations; move unusable titles to `rejects` with a reason.

    The input frame is not modified. `clean` keeps every input column, adds `title_raw`
    (the original) after `title` (the cleaned one); `rejects` keeps the original rows and
    adds `reason` ("<code>: <explanation naming row and field>").
    """
    cfg = cfg or CleanConfig()
    if schema.TITLE not in df.columns:
        raise DataError(
            f"expected a '{schema.TITLE}' column (use load_candidates); "
            f"found columns: {', '.join(map(str, df.columns))}",
            field=schema.TITLE,
        )
    if schema.TITLE_RAW in df.columns:
        raise DataError(
            f"already has a '{schema.TITLE_RAW}' column; expected uncleaned candidates",
            field=schema.TITLE_RAW,
        )
    table = cfg.abbreviation_table()
    verdicts = [_judge_title(raw, cfg, table) for raw in df[schema.TITLE].tolist()]
    row_labels = _row_labels(df)
    keep = [i for i, v in enumerate(verdicts) if v.code is None]
    drop = [i for i, v in enumerate(verdicts) if v.code is not None]

    clean = _clean_frame(df, keep, [verdicts[i].title for i in keep])
    rejects = df.iloc[drop].reset_index(drop=True)
    rejects[schema.REASON] = [
        f"{verdicts[i].code}: row {row_labels[i]}, field '{schema.TITLE}': {verdicts[i].detail}"
        for i in drop
    ]
    counts = _counts(df, clean, rejects, verdicts)
    # Nothing may vanish between input and the two outputs.
    assert counts["n_input"] == counts["n_clean"] + counts["n_rejected"], counts
    assert counts["n_rejected"] == sum(counts[f"n_rejected_{c}"] for c in REJECT_CODES), counts
    logger.info(
        "cleaned %d candidates: %d kept, %d rejected; counts=%s",
        counts["n_input"],
        counts["n_clean"],
        counts["n_rejected"],
        counts,
    )
    return CleanResult(clean=clean, rejects=rejects, counts=counts)


def _row_labels(df: pd.DataFrame) -> list[int]:
    """source_row when the loader provided it, else the 1-based position."""
    if schema.SOURCE_ROW in df.columns:
        return [int(r) for r in df[schema.SOURCE_ROW].tolist()]
    return list(range(1, len(df) + 1))


def _clean_frame(df: pd.DataFrame, keep: list[int], titles: list[str]) -> pd.DataFrame:
    clean = df.iloc[keep].reset_index(drop=True)
    raw = clean[schema.TITLE]
    clean[schema.TITLE] = pd.Series(titles, index=clean.index, dtype="str")
    clean.insert(clean.columns.get_loc(schema.TITLE) + 1, schema.TITLE_RAW, raw)
    if schema.LOCATION in clean.columns:
        locations = [_clean_location(v) for v in clean[schema.LOCATION].tolist()]
        clean[schema.LOCATION] = pd.Series(locations, index=clean.index, dtype="str")
    return clean


def _counts(
    df: pd.DataFrame, clean: pd.DataFrame, rejects: pd.DataFrame, verdicts: list[_TitleVerdict]
) -> dict[str, int]:
    kept = [v for v in verdicts if v.code is None]
    counts = {"n_input": len(df), "n_clean": len(clean), "n_rejected": len(rejects)}
    for code in REJECT_CODES:
        counts[f"n_rejected_{code}"] = sum(v.code == code for v in verdicts)
    counts["n_distinct_titles"] = int(clean[schema.TITLE].nunique())
    counts["n_abbreviations_expanded"] = sum(v.n_expanded for v in kept)
    counts["n_changed_by_normalisation"] = sum(v.changed for v in kept)
    return counts


def write_rejects(rejects: pd.DataFrame, path: str | Path) -> None:
    """Write rejects as CSV, header only when there are none, so the output always exists."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rejects.to_csv(path, index=False)
    logger.info("wrote %d rejected row(s) to %s", len(rejects), path)
