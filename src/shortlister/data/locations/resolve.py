"""Resolve LinkedIn-style free-text locations ("Houston, Texas Area", "Kanada") to a country.

Resolution tries the comma-separated parts of a location from the last to the first,
because LinkedIn writes the widest unit last ("Bengaluru, Karnataka, India"). Each part is
compared accent- and case-insensitively against, in this order (the tables are in
`shortlister.data.locations.gazetteer`):

1. `AMBIGUOUS`: names that mean different places; we pick the likelier one in this data.
2. `METROS`: LinkedIn metro phrasings ("San Francisco Bay Area", "Dallas/Fort Worth Area").
3. Country names and codes from pycountry (name, official and common names).
4. `ALIASES`: non-English and informal country names ("Kanada", "Deutschland", "UK").
5. `CITIES`: a small gazetteer of big cities that often appear without a country.
6. Subdivisions (states, provinces) of the countries in `SUBDIVISION_COUNTRIES`.

Decorations such as "Greater ... Area" or "Metro" are stripped before steps 5-6. Codes
("USA", "GBR", "TX", "ON") only count when written in capitals, so "in" or "and" never
become India or Andorra. Strings that resolve to nothing ("Remote", "Earth", "") return
None; `shortlister.data.locations.report.location_report` lists them so they are reported,
never dropped.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pandas as pd
import pycountry

from shortlister.data.locations.gazetteer import (
    ALIASES,
    AMBIGUOUS,
    CANADIAN_CODES,
    CITIES,
    CODE_COUNTRIES,
    METROS,
    PREFIXES,
    SUBDIVISION_COUNTRIES,
    SUFFIXES,
    How,
)

_NOT_DECOMPOSED = str.maketrans({"ı": "i", "ø": "o", "æ": "ae", "ł": "l", "đ": "d", "ß": "ss"})
_SPACES = re.compile(r"\s+")
_PARTS = re.compile(r"[,;]")


@dataclass(frozen=True)
class LocationMatch:
    """The country a location resolved to, and which rule resolved it."""

    country_name: str
    iso3: str
    how: How


def _key(text: str) -> str:
    """Accent-free, lower-case, dot-free text with single spaces, for table look-ups."""
    text = unicodedata.normalize("NFKD", text.casefold().translate(_NOT_DECOMPOSED))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace(".", "").replace("&", " and ")
    return _SPACES.sub(" ", text).strip(" -/")


def _strip_decorations(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in PREFIXES:
            if key.startswith(prefix) and len(key) > len(prefix):
                key, changed = key[len(prefix) :].strip(), True
        for suffix in SUFFIXES:
            if key.endswith(suffix) and len(key) > len(suffix):
                key, changed = key[: -len(suffix)].strip(), True
    return key


def _country(alpha2: str) -> pycountry.db.Country:
    country = pycountry.countries.get(alpha_2=alpha2)
    assert country is not None, alpha2  # the gazetteer only holds valid codes
    return country


def _display_name(country: pycountry.db.Country) -> str:
    # "South Korea" reads better than "Korea, Republic of" on a map or in a table.
    return getattr(country, "common_name", None) or country.name


@functools.cache
def _country_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                names.setdefault(_key(value), country.alpha_2)
    return names


@functools.cache
def _codes() -> dict[str, tuple[str, How]]:
    codes: dict[str, tuple[str, How]] = {
        c.alpha_3: (c.alpha_2, "country") for c in pycountry.countries
    }
    codes.update({c.alpha_2: (c.alpha_2, "country") for c in pycountry.countries})
    codes["UK"] = ("GB", "country")
    for sub in pycountry.subdivisions:
        prefix, _, local = sub.code.partition("-")
        if prefix in CODE_COUNTRIES or (prefix == "CA" and local in CANADIAN_CODES):
            codes[local] = (prefix, "subdivision")  # these win over country codes: see above
    return codes


@functools.cache
def _subdivision_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for code in reversed(SUBDIVISION_COUNTRIES):  # earlier countries overwrite later ones
        for sub in pycountry.subdivisions.get(country_code=code) or ():
            key = _key(sub.name)
            names[key] = code
            # "London, City of" -> "london"; "Shaanxi Sheng" -> "shaanxi"
            names[_strip_decorations(key.split(",")[0])] = code
    return names


def _lookups(key: str) -> Iterator[tuple[str, How]]:
    """(alpha-2, how) for each table that knows `key`, in priority order."""
    if key in AMBIGUOUS:
        yield AMBIGUOUS[key]
    tables: tuple[tuple[dict[str, str], How], ...] = (
        (METROS, "metro"),
        (_country_names(), "country"),
        (ALIASES, "alias"),
        (CITIES, "city"),
        (_subdivision_names(), "subdivision"),
    )
    for table, how in tables:
        if key in table:
            yield table[key], how


def _resolve_part(part: str) -> tuple[str, How] | None:
    raw = part.strip().replace(".", "")
    if raw.isupper() and raw in _codes():
        return _codes()[raw]
    key = _key(part)
    stripped = _strip_decorations(key)
    for candidate in dict.fromkeys((key, stripped)):
        for alpha2, how in _lookups(candidate):
            # "Greater Atlanta Area" names a metro even though "Atlanta" is in the city table.
            return alpha2, "metro" if stripped != key and how == "city" else how
    return None


def _resolve_pieces(part: str) -> tuple[str, How] | None:
    """ "Miami/Fort Lauderdale", "Raleigh-Durham": any one named city is enough."""
    stripped = _strip_decorations(_key(part))
    for piece in re.split(r"[/-]", stripped):
        piece = _strip_decorations(piece.strip())
        if piece and piece != stripped and piece in CITIES:
            return CITIES[piece], "metro"
    return None


@functools.lru_cache(maxsize=4096)
def normalise_location(text: str) -> LocationMatch | None:
    """The country a free-text location names, or None if nothing matches.

    Parts are tried from the last comma-separated one to the first, first whole, then
    (for "Miami/Fort Lauderdale"-style metros) by their "/" or "-" separated pieces; see
    the module docstring for the tables and their order.
    """
    if not isinstance(text, str):
        return None
    parts = [p for p in _PARTS.split(unicodedata.normalize("NFKC", text)) if p.strip()]
    for resolve in (_resolve_part, _resolve_pieces):
        for part in reversed(parts):
            found = resolve(part)
            if found is not None:
                country = _country(found[0])
                return LocationMatch(_display_name(country), country.alpha_3, found[1])
    return None


def resolve_locations(locations: Iterable[object]) -> pd.DataFrame:
    """One row per input: location (as given, "" for missing), country_name, iso3, how.

    Unresolved rows keep their location and have missing country_name, iso3 and how. The
    index is the input's index when it is a Series.
    """
    series = locations if isinstance(locations, pd.Series) else pd.Series(list(locations))
    text = series.map(lambda v: v if isinstance(v, str) else "")
    matches = {loc: normalise_location(loc) for loc in text.unique()}
    frame = pd.DataFrame({"location": text.astype("str")}, index=series.index)
    for column in ("country_name", "iso3", "how"):
        values = text.map(lambda loc, c=column: getattr(matches[loc], c, None))
        frame[column] = values.astype("str")
    return frame
