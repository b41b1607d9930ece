"""What an id may hold: run files and qrels are whitespace-separated, one record a line."""

from __future__ import annotations

import unicodedata


def id_problem(value: str) -> str | None:
    """Why `value` cannot be carried as an id in a TREC run or qrels file, or None.

    Whitespace (any Unicode space) would shift every later column on read-back; control
    and other non-printing characters (NUL, line breaks, lone surrogates) break lines or
    encodings.
    """
    if not value:
        return "is empty"
    for position, ch in enumerate(value, start=1):
        if ch.isspace():
            return f"has whitespace at character {position}"
        if unicodedata.category(ch).startswith("C"):
            return f"has a non-printing character U+{ord(ch):04X} at character {position}"
    return None
