"""Normalise candidate titles and locations, expand job-title abbreviations, set aside
rows whose title cannot be ranked.

Nothing is dropped silently: every input row ends up in `CleanResult.clean` or in
`CleanResult.rejects` with a reason naming the row and field.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shortlister.core.checks import build, check_int
from shortlister.core.errors import ConfigError, DataError
from shortlister.core.outputs import write_people_csv
from shortlister.data import schema
from shortlister.data.text import (  # re-exported: the cleaner's public text functions
    DEFAULT_ABBREVIATIONS,
    check_encodable,
    describe_removed,
    expand_abbreviations,
    normalise_chars,
    normalise_text,
)

logger = logging.getLogger(__name__)

# Compared after normalisation and lower-casing.
PLACEHOLDER_TITLES: frozenset[str] = frozenset(
    {
        "n/a", "na", "n.a.", "n.a", "#n/a", "none", "null", "nil", "nan",
        "-", "--", "---", ".", "..", "...", "?", "??", "tbd", "tba",
        "unknown", "not available", "not applicable",
    }
)  # fmt: skip

WARNING_COLUMNS: tuple[str, ...] = (schema.ID, schema.SOURCE_ROW, "field", "warning")

REJECT_CODES: tuple[str, ...] = (
    "missing_title",
    "placeholder_title",
    "no_letters",
    "title_too_long",
)

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
        check_int("max_title_chars", self.max_title_chars, minimum=1)
        check_int("min_letters", self.min_letters, minimum=0)
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

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> CleanConfig:
        """From ``data.clean`` (defaults when None); unknown keys are refused."""
        return build(cls, cfg, "data.clean")

    def abbreviation_table(self) -> dict[str, str]:
        """Defaults merged with the user's additions (later keys win)."""
        return {**DEFAULT_ABBREVIATIONS, **self.extra_abbreviations}


@dataclass(frozen=True)
class NormalisedTitle:
    """What `normalise_title` made of a text."""

    title: str  # normalised, abbreviations expanded
    before_expansion: str  # normalised only: what length limits are judged on
    n_expanded: int
    removed: Counter[str]  # control characters dropped, by character


@dataclass
class CleanResult:
    """Output of `clean_candidates`."""

    clean: pd.DataFrame  # input columns plus `title_raw`; `title` is the cleaned title
    rejects: pd.DataFrame  # rejected input rows, original columns, plus `reason`
    counts: dict[str, int]
    # Kept rows whose text was changed in a way worth saying: id, source_row, field, warning.
    warnings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=WARNING_COLUMNS))


def normalise_title(text: str, cfg: CleanConfig | None = None) -> NormalisedTitle:
    """The one normalisation of titles and queries: unicode, whitespace, abbreviations.

    `clean_candidates` applies it to every title and every entry point (CLI, service,
    pipeline stages, LLM prompts) to every query, so "hr" is matched as "human
    resources" whichever side wrote it. Case is kept (the methods lower-case).
    """
    cfg = cfg or CleanConfig()
    removed: Counter[str] = Counter()
    before = normalise_text(text, removed)
    title, n_expanded = before, 0
    if cfg.expand_abbreviations and before:
        title, n_expanded = expand_abbreviations(before, cfg.abbreviation_table())
    return NormalisedTitle(title, before, n_expanded, removed)


def normalise_query(
    query: str,
    cfg: CleanConfig | None = None,
    *,
    field: str = "query",
    path: str | Path | None = None,
    row: int | None = None,
) -> str:
    """A query as `normalise_title` cleans titles; DataError for unencodable text.

    May return "" (a query of control characters or separators only): callers treat
    that as an empty query.
    """
    check_encodable(query, field=field, path=path, row=row)
    return normalise_title(query, cfg).title


@dataclass
class _TitleVerdict:
    title: str
    n_expanded: int
    changed: bool
    code: str | None = None
    detail: str = ""
    removed: Counter[str] = field(default_factory=Counter)  # control characters dropped


def _judge_title(raw: object, cfg: CleanConfig) -> _TitleVerdict:
    """Clean one title, or say which reject code applies and why."""
    raw_text = "" if _is_missing(raw) else str(raw)
    normalised = normalise_title(raw_text, cfg)
    removed = normalised.removed
    basic = normalise_chars(raw_text)
    # Check placeholders before separators are stripped, otherwise "-" would look empty.
    if basic.lower() in PLACEHOLDER_TITLES:
        detail = f"{basic!r} is a placeholder"
        return _TitleVerdict("", 0, True, "placeholder_title", detail, removed)
    title = normalised.before_expansion
    changed = title != raw_text
    if not title:
        detail = "title is missing" if not raw_text.strip() else f"{raw_text!r} has no text"
        return _TitleVerdict("", 0, changed, "missing_title", detail, removed)
    letters = sum(ch.isalpha() for ch in title)
    if letters < cfg.min_letters:
        detail = f"{title!r} has {letters} letter(s), expected at least {cfg.min_letters}"
        return _TitleVerdict(title, 0, changed, "no_letters", detail, removed)
    # Length is judged on what the candidate wrote, before expansion lengthens it.
    if len(title) > cfg.max_title_chars:
        detail = (
            f"title has {len(title)} characters, expected at most {cfg.max_title_chars} "
            "(max_title_chars)"
        )
        return _TitleVerdict(title, 0, changed, "title_too_long", detail, removed)
    return _TitleVerdict(normalised.title, normalised.n_expanded, changed, removed=removed)


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-like cells
        return False


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
    verdicts = [_judge_title(raw, cfg) for raw in df[schema.TITLE].tolist()]
    row_labels = _row_labels(df)
    keep = [i for i, v in enumerate(verdicts) if v.code is None]
    drop = [i for i, v in enumerate(verdicts) if v.code is not None]

    clean, location_removed = _clean_frame(df, keep, [verdicts[i].title for i in keep])
    reasons = [_reason(verdicts[i], row_labels[i]) for i in drop]
    rejects = _echo(df.iloc[drop].reset_index(drop=True))
    rejects[schema.REASON] = pd.Series(reasons, index=rejects.index, dtype="object")
    warnings = _warnings(
        df,
        row_labels,
        {i: verdicts[i].removed for i in keep},
        dict(zip(keep, location_removed, strict=True)),
    )
    counts = _counts(df, clean, rejects, verdicts, location_removed, warnings)
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
    return CleanResult(clean=clean, rejects=rejects, counts=counts, warnings=warnings)


def _reason(verdict: _TitleVerdict, row: int) -> str:
    reason = f"{verdict.code}: row {row}, field '{schema.TITLE}': {verdict.detail}"
    if verdict.removed:
        reason += f"; {describe_removed(verdict.removed)}"
    return reason


def _echo(rows: pd.DataFrame) -> pd.DataFrame:
    """Rejected rows as the file wrote them: the score's own text, not its float."""
    if schema.SCORE_TEXT not in rows.columns:
        return rows
    rows = rows.copy()
    rows[schema.SCREENING_SCORE] = rows.pop(schema.SCORE_TEXT).astype("object")
    return rows


def _warnings(
    df: pd.DataFrame,
    row_labels: list[int],
    title_removed: dict[int, Counter[str]],
    location_removed: dict[int, Counter[str]],
) -> pd.DataFrame:
    """One row per kept candidate and field whose text lost control characters."""
    ids = df[schema.ID].astype(str).tolist() if schema.ID in df.columns else None
    records = []
    fields = ((schema.TITLE, title_removed), (schema.LOCATION, location_removed))
    for name, removed_by_row in fields:
        for i, removed in removed_by_row.items():
            if removed:
                records.append(
                    {
                        schema.ID: "" if ids is None else ids[i],
                        schema.SOURCE_ROW: row_labels[i],
                        "field": name,
                        "warning": describe_removed(removed),
                    }
                )
    records.sort(key=lambda r: (r[schema.SOURCE_ROW], r["field"]))
    return pd.DataFrame(records, columns=WARNING_COLUMNS)


def _row_labels(df: pd.DataFrame) -> list[int]:
    """source_row when the loader provided it, else the 1-based position."""
    if schema.SOURCE_ROW in df.columns:
        return [int(r) for r in df[schema.SOURCE_ROW].tolist()]
    return list(range(1, len(df) + 1))


def _clean_frame(
    df: pd.DataFrame, keep: list[int], titles: list[str]
) -> tuple[pd.DataFrame, list[Counter[str]]]:
    """Kept rows with cleaned titles and locations, and each location's removed controls."""
    clean = df.iloc[keep].reset_index(drop=True)
    if schema.SCORE_TEXT in clean.columns:
        clean = clean.drop(columns=schema.SCORE_TEXT)
    raw = clean[schema.TITLE]
    clean[schema.TITLE] = pd.Series(titles, index=clean.index, dtype="str")
    clean.insert(clean.columns.get_loc(schema.TITLE) + 1, schema.TITLE_RAW, raw)
    removed: list[Counter[str]] = [Counter() for _ in keep]
    if schema.LOCATION in clean.columns:
        locations = [
            "" if _is_missing(v) else normalise_text(str(v), removed[i])
            for i, v in enumerate(clean[schema.LOCATION].tolist())
        ]
        clean[schema.LOCATION] = pd.Series(locations, index=clean.index, dtype="str")
    return clean, removed


def _counts(
    df: pd.DataFrame,
    clean: pd.DataFrame,
    rejects: pd.DataFrame,
    verdicts: list[_TitleVerdict],
    location_removed: list[Counter[str]],
    warnings: pd.DataFrame,
) -> dict[str, int]:
    kept = [v for v in verdicts if v.code is None]
    counts = {"n_input": len(df), "n_clean": len(clean), "n_rejected": len(rejects)}
    for code in REJECT_CODES:
        counts[f"n_rejected_{code}"] = sum(v.code == code for v in verdicts)
    counts["n_distinct_titles"] = int(clean[schema.TITLE].nunique())
    counts["n_abbreviations_expanded"] = sum(v.n_expanded for v in kept)
    counts["n_changed_by_normalisation"] = sum(v.changed for v in kept)
    # Said out loud: control characters (NUL, ESC, ...) are removed, never silently.
    counts["n_control_chars_removed"] = sum(sum(v.removed.values()) for v in verdicts) + sum(
        sum(r.values()) for r in location_removed
    )
    counts["n_rows_with_control_chars"] = sum(
        bool(v.removed) or (v.code is None and bool(r))
        for v, r in zip(verdicts, _spread(verdicts, location_removed), strict=True)
    )
    counts["n_warnings"] = len(warnings)
    return counts


def _spread(verdicts: list[_TitleVerdict], kept_values: list[Counter[str]]) -> list[Counter[str]]:
    """Per-kept-row values laid out over all rows (empty for rejected ones)."""
    values = iter(kept_values)
    return [next(values) if v.code is None else Counter() for v in verdicts]


def write_rejects(rejects: pd.DataFrame, path: str | Path) -> None:
    """Write rejects as spreadsheet-safe CSV, header only when there are none, atomically."""
    write_people_csv(rejects, path)
    logger.info("wrote %d rejected row(s) to %s", len(rejects), path)


def write_warnings(warnings: pd.DataFrame, path: str | Path) -> None:
    """Write per-row warnings (control characters removed, ...) as spreadsheet-safe CSV."""
    write_people_csv(warnings, path)
    logger.info("wrote %d warning(s) to %s", len(warnings), path)
