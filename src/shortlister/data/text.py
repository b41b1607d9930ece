"""Text normalisation shared by titles and queries: characters, whitespace, abbreviations.

`data.clean` builds on these (with its `CleanConfig`) to clean candidate tables and
queries alike; nothing here knows about tables.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from pathlib import Path

from shortlister.core.errors import DataError

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

# Characters that are invisible but break string equality (zero-width space, BOM, soft
# hyphen, ...). Most are category Cf; listed so the intent is explicit.
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e")
_LINE_BREAKS = frozenset("\n\r\t\v\f\x85\u2028\u2029")
_WHITESPACE_RUN = re.compile(r"\s+")
_PIPE = re.compile(r"\s*\|\s*")
_EDGE_SEPARATORS = re.compile(r"^[\s|,\-]+|[\s|,\-]+$")
# Names for the control characters exports actually carry (the rest show as U+XXXX).
_CONTROL_NAMES = {"\x00": "NUL", "\x07": "BEL", "\x08": "BS", "\x1b": "ESC", "\x7f": "DEL"}


def normalise_chars(text: str, removed: Counter[str] | None = None) -> str:
    """NFKC, invisible characters removed, whitespace collapsed; punctuation untouched.

    Control characters other than line breaks and tabs (NUL, ESC, DEL, C1 controls...)
    are dropped and, when `removed` is given, counted there by character.
    """
    text = unicodedata.normalize("NFKC", text)
    kept = []
    for ch in text:
        if ch in _LINE_BREAKS:
            kept.append(" ")
            continue
        category = unicodedata.category(ch)
        if ch in _INVISIBLE or category in ("Cc", "Cf"):
            if removed is not None and category == "Cc":
                removed[ch] += 1
            continue
        kept.append(ch)
    return _WHITESPACE_RUN.sub(" ", "".join(kept)).strip()


def normalise_text(text: str, removed: Counter[str] | None = None) -> str:
    """Canonical form of a free-text field; keeps case and non-ASCII letters.

    NFKC (full-width letters become ASCII), control and zero-width characters dropped
    (control characters counted into `removed` when given), newlines/tabs and whitespace
    runs become one space, spaces around ``|`` tidied to ``" | "``, and stray separators
    (``|``, ``-``, ``,``) stripped from both ends.
    """
    text = normalise_chars(text, removed)
    text = _PIPE.sub(" | ", text)
    return _EDGE_SEPARATORS.sub("", text)


def describe_removed(removed: Counter[str]) -> str:
    """'2 control character(s) removed (U+0000 NUL x2)' for a warning or an error."""
    parts = [
        f"U+{ord(ch):04X}{' ' + _CONTROL_NAMES[ch] if ch in _CONTROL_NAMES else ''} x{n}"
        for ch, n in sorted(removed.items())
    ]
    return f"{sum(removed.values())} control character(s) removed ({', '.join(parts)})"


def check_encodable(
    text: str, *, field: str, path: str | Path | None = None, row: int | None = None
) -> None:
    """DataError when `text` cannot be written as UTF-8 (a lone surrogate, e.g. '\\ud800').

    Such text arrives through JSON escapes or undecodable command-line bytes; every
    model and file writer would fail on it later, with a traceback.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raise DataError(
            f"contains unencodable text at character {exc.start + 1} "
            f"(U+{ord(bad):04X}, a lone surrogate); expected valid Unicode text (UTF-8)",
            path=path,
            row=row,
            field=field,
        ) from None


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
