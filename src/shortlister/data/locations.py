"""Resolve LinkedIn-style free-text locations ("Houston, Texas Area", "Kanada") to a country.

Resolution tries the comma-separated parts of a location from the last to the first,
because LinkedIn writes the widest unit last ("Bengaluru, Karnataka, India"). Each part is
compared accent- and case-insensitively against, in this order:

1. `AMBIGUOUS`: names that mean different places; we pick the likelier one in this data.
2. `METROS`: LinkedIn metro phrasings ("San Francisco Bay Area", "Dallas/Fort Worth Area").
3. Country names and codes from pycountry (name, official and common names).
4. `ALIASES`: non-English and informal country names ("Kanada", "Deutschland", "UK").
5. `CITIES`: a small gazetteer of big cities that often appear without a country.
6. Subdivisions (states, provinces) of the countries in `SUBDIVISION_COUNTRIES`.

Decorations such as "Greater ... Area" or "Metro" are stripped before steps 5-6. Codes
("USA", "GBR", "TX", "ON") only count when written in capitals, so "in" or "and" never
become India or Andorra. Strings that resolve to nothing ("Remote", "Earth", "") return
None; `location_report` lists them so they are reported, never dropped.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
import pycountry

logger = logging.getLogger(__name__)

How = Literal["country", "alias", "subdivision", "city", "metro"]
UNRESOLVED = "unresolved"

# Keys are compared after `_key` (no accents, lower case, no dots). Values are ISO alpha-2.
# A bare "Georgia" is read as the US state: the client's pool is mostly US-based and
# LinkedIn writes the country as "Georgia" only for a handful of profiles.
AMBIGUOUS: dict[str, tuple[str, How]] = {
    "georgia": ("US", "subdivision"),
    "washington": ("US", "subdivision"),  # the state or DC; the same country either way
    "punjab": ("IN", "subdivision"),  # also Pakistan's; India is the larger LinkedIn market
    "hyderabad": ("IN", "city"),  # also a city in Pakistan
    "london": ("GB", "city"),  # not London, Ontario
    "birmingham": ("GB", "city"),  # "Birmingham, Alabama" resolves by its last part first
    "cambridge": ("GB", "city"),
    "perth": ("AU", "city"),
    "santiago": ("CL", "city"),
    "victoria": ("AU", "subdivision"),  # the Australian state, not the Canadian city
}

METROS: dict[str, str] = {
    "greater new york city area": "US",
    "new york city": "US",
    "new york metropolitan": "US",
    "nyc": "US",
    "tri-state": "US",
    "san francisco bay area": "US",
    "sf bay area": "US",
    "bay area": "US",
    "silicon valley": "US",
    "dallas/fort worth": "US",
    "dallas-fort worth": "US",
    "dfw": "US",
    "miami/fort lauderdale": "US",
    "minneapolis-st paul": "US",
    "twin cities": "US",
    "washington dc": "US",
    "washington dc metro": "US",
    "washington dc-baltimore": "US",
    "dc metro": "US",
    "raleigh-durham": "US",
    "research triangle": "US",
    "greenville-spartanburg": "US",
    "hampton roads": "US",
    "inland empire": "US",
    "greater toronto": "CA",
    "gta": "CA",
    "greater london": "GB",
    "greater manchester": "GB",
    "randstad": "NL",
    "delhi ncr": "IN",
    "ncr": "IN",
    "greater sydney": "AU",
    "greater melbourne": "AU",
}

ALIASES: dict[str, str] = {
    # United States
    "us": "US", "usa": "US", "america": "US", "united states of america": "US",
    "amerika birlesik devletleri": "US", "estados unidos": "US", "etats-unis": "US",
    "vereinigte staaten": "US", "stati uniti": "US", "ee uu": "US", "eeuu": "US",
    # United Kingdom and its nations
    "uk": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB", "birlesik krallik": "GB",
    "vereinigtes konigreich": "GB", "reino unido": "GB", "royaume-uni": "GB",
    "regno unito": "GB",
    # Other countries, by the names their own or neighbouring languages use
    "kanada": "CA",
    "turkey": "TR", "turkiye": "TR", "turkei": "TR", "turquie": "TR", "turquia": "TR",
    "deutschland": "DE", "almanya": "DE", "allemagne": "DE", "alemania": "DE",
    "germania": "DE", "niemcy": "DE",
    "espana": "ES", "spanien": "ES", "espagne": "ES", "ispanya": "ES", "spagna": "ES",
    "brasil": "BR", "brezilya": "BR", "bresil": "BR", "brasilien": "BR",
    "italia": "IT", "italien": "IT", "italie": "IT", "italya": "IT",
    "mexiko": "MX", "meksika": "MX", "mexique": "MX",
    "nederland": "NL", "the netherlands": "NL", "holland": "NL", "niederlande": "NL",
    "pays-bas": "NL", "hollanda": "NL", "paises bajos": "NL",
    "frankreich": "FR", "francia": "FR", "fransa": "FR",
    "uae": "AE", "emirates": "AE", "the uae": "AE", "birlesik arap emirlikleri": "AE",
    "hong kong sar": "HK", "hong kong sar china": "HK", "hongkong": "HK",
    "korea": "KR", "republic of korea": "KR",
    "russia": "RU", "rusya": "RU", "russland": "RU",
    "czech republic": "CZ", "ivory coast": "CI", "cape verde": "CV", "swaziland": "SZ",
    "burma": "MM", "macedonia": "MK", "palestine": "PS", "vatican": "VA", "brunei": "BN",
    "dr congo": "CD", "drc": "CD", "democratic republic of the congo": "CD",
    "hindistan": "IN", "bharat": "IN",
    "japonya": "JP", "japon": "JP", "nihon": "JP",
    "cin": "CN", "chine": "CN", "prc": "CN",
    "suudi arabistan": "SA", "ksa": "SA",
    "misir": "EG", "yunanistan": "GR", "hellas": "GR",
    "schweiz": "CH", "suisse": "CH", "svizzera": "CH", "isvicre": "CH",
    "osterreich": "AT", "avusturya": "AT",
    "belgique": "BE", "belgie": "BE", "belcika": "BE",
    "polska": "PL", "polonya": "PL",
    "sverige": "SE", "isvec": "SE",
    "norge": "NO", "norvec": "NO",
    "danmark": "DK", "danimarka": "DK",
    "suomi": "FI", "eire": "IE", "irlanda": "IE",
    "ukraina": "UA", "ukrayna": "UA",
    "azerbaycan": "AZ", "magyarorszag": "HU", "pilipinas": "PH", "singapur": "SG",
    "south africa": "ZA", "rsa": "ZA",
    "kibris": "CY", "iran": "IR", "vietnam": "VN", "taiwan": "TW",
}  # fmt: skip

CITIES: dict[str, str] = {
    # United States (LinkedIn metros are usually named after these)
    "los angeles": "US", "chicago": "US", "houston": "US", "phoenix": "US",
    "philadelphia": "US", "san antonio": "US", "san diego": "US", "dallas": "US",
    "fort worth": "US", "san jose": "US", "san francisco": "US", "austin": "US",
    "boston": "US", "seattle": "US", "denver": "US", "atlanta": "US", "miami": "US",
    "detroit": "US", "minneapolis": "US", "pittsburgh": "US", "baltimore": "US",
    "st louis": "US", "saint louis": "US", "charlotte": "US", "nashville": "US",
    "orlando": "US", "tampa": "US", "tampa bay": "US", "portland": "US", "las vegas": "US",
    "salt lake city": "US", "kansas city": "US", "cleveland": "US", "cincinnati": "US",
    "columbus": "US", "indianapolis": "US", "milwaukee": "US", "raleigh": "US",
    "sacramento": "US", "new orleans": "US", "st paul": "US", "grand rapids": "US",
    "hartford": "US", "richmond": "US", "memphis": "US", "louisville": "US",
    "oklahoma city": "US", "albuquerque": "US", "tucson": "US", "honolulu": "US",
    "buffalo": "US", "rochester": "US", "jacksonville": "US", "fort lauderdale": "US",
    # Canada
    "toronto": "CA", "montreal": "CA", "vancouver": "CA", "calgary": "CA", "ottawa": "CA",
    "edmonton": "CA", "winnipeg": "CA", "mississauga": "CA",
    # Europe
    "paris": "FR", "lyon": "FR", "marseille": "FR", "berlin": "DE", "munich": "DE",
    "munchen": "DE", "hamburg": "DE", "frankfurt": "DE", "frankfurt am main": "DE",
    "cologne": "DE", "koln": "DE", "stuttgart": "DE", "dusseldorf": "DE",
    "madrid": "ES", "barcelona": "ES", "valencia": "ES", "rome": "IT", "roma": "IT",
    "milan": "IT", "milano": "IT", "amsterdam": "NL", "rotterdam": "NL", "the hague": "NL",
    "eindhoven": "NL", "brussels": "BE", "bruxelles": "BE", "antwerp": "BE",
    "zurich": "CH", "geneva": "CH", "geneve": "CH", "vienna": "AT", "wien": "AT",
    "stockholm": "SE", "oslo": "NO", "copenhagen": "DK", "kobenhavn": "DK",
    "helsinki": "FI", "dublin": "IE", "lisbon": "PT", "lisboa": "PT", "porto": "PT",
    "warsaw": "PL", "warszawa": "PL", "krakow": "PL", "prague": "CZ", "praha": "CZ",
    "budapest": "HU", "athens": "GR", "bucharest": "RO", "bucuresti": "RO",
    "manchester": "GB", "edinburgh": "GB", "glasgow": "GB", "leeds": "GB", "bristol": "GB",
    "liverpool": "GB", "istanbul": "TR", "izmir": "TR", "ankara": "TR", "antalya": "TR",
    "moscow": "RU", "moskva": "RU", "saint petersburg": "RU", "kyiv": "UA", "kiev": "UA",
    # Middle East and Africa
    "dubai": "AE", "abu dhabi": "AE", "riyadh": "SA", "jeddah": "SA", "doha": "QA",
    "tel aviv": "IL", "cairo": "EG", "lagos": "NG", "abuja": "NG", "nairobi": "KE",
    "johannesburg": "ZA", "cape town": "ZA", "accra": "GH", "casablanca": "MA",
    # Asia and Oceania
    "mumbai": "IN", "bombay": "IN", "delhi": "IN", "new delhi": "IN", "bengaluru": "IN",
    "bangalore": "IN", "chennai": "IN", "pune": "IN", "kolkata": "IN", "gurgaon": "IN",
    "gurugram": "IN", "noida": "IN", "ahmedabad": "IN", "karachi": "PK", "lahore": "PK",
    "islamabad": "PK", "dhaka": "BD", "colombo": "LK", "singapore": "SG",
    "kuala lumpur": "MY", "jakarta": "ID", "manila": "PH", "makati": "PH", "bangkok": "TH",
    "ho chi minh city": "VN", "hanoi": "VN", "hong kong": "HK", "shanghai": "CN",
    "beijing": "CN", "shenzhen": "CN", "guangzhou": "CN", "taipei": "TW", "seoul": "KR",
    "tokyo": "JP", "osaka": "JP", "sydney": "AU", "melbourne": "AU", "brisbane": "AU",
    "auckland": "NZ", "wellington": "NZ",
    # Latin America
    "mexico city": "MX", "ciudad de mexico": "MX", "cdmx": "MX", "guadalajara": "MX",
    "monterrey": "MX", "sao paulo": "BR", "rio de janeiro": "BR", "buenos aires": "AR",
    "lima": "PE", "bogota": "CO", "medellin": "CO", "caracas": "VE",
}  # fmt: skip

# Countries whose subdivisions (states, provinces, ...) are matched, in priority order:
# a name two of them share ("Limburg", "La Rioja") goes to the earlier one. Subdivisions of
# other countries are left out because many are common words ("Central", "Northern").
SUBDIVISION_COUNTRIES: tuple[str, ...] = (
    "US", "CA", "IN", "GB", "AU", "DE", "TR", "BR", "MX", "NG", "ZA", "ES", "IT", "NL",
    "FR", "CN", "PH", "PK",
)  # fmt: skip
# Two-letter subdivision codes accepted in capitals ("Austin, TX"). US codes win over ISO
# country codes ("CA" is California, "IN" Indiana, "GA" Georgia); of Canada's we keep only
# the ones that clash with no country code a recruiter would write ("NL" stays Netherlands).
CODE_COUNTRIES: tuple[str, ...] = ("US",)
CANADIAN_CODES: frozenset[str] = frozenset({"ON", "QC", "BC", "AB", "MB", "NS", "NB"})

# Stripped from a part before the city and subdivision look-ups; LinkedIn and its
# translations wrap metros this way.
_PREFIXES = (
    "greater ", "metropolitan ", "metro ", "region of ", "region de ", "grande ",
    "area metropolitana de ", "regiao metropolitana de ", "metropolregion ",
)  # fmt: skip
_SUFFIXES = (
    " metropolitan area", " metro area", " area", " metro", " region", " und umgebung",
    " y alrededores", " e regiao", " sheng", " shi",
)  # fmt: skip
_NOT_DECOMPOSED = str.maketrans({"ı": "i", "ø": "o", "æ": "ae", "ł": "l", "đ": "d", "ß": "ss"})
_SPACES = re.compile(r"\s+")
_PARTS = re.compile(r"[,;]")


@dataclass(frozen=True)
class LocationMatch:
    """The country a location resolved to, and which rule resolved it."""

    country_name: str
    iso3: str
    how: How


@dataclass(frozen=True)
class LocationReport:
    """How many rows resolved, and every distinct string that did not (with its count)."""

    n_rows: int
    n_resolved: int
    unresolved: dict[str, int] = field(default_factory=dict)  # most frequent first

    @property
    def n_unresolved(self) -> int:
        return self.n_rows - self.n_resolved

    @property
    def n_unresolved_distinct(self) -> int:
        return len(self.unresolved)

    @property
    def share_resolved(self) -> float:
        # An empty table has nothing unresolved; 1.0 keeps "share >= threshold" checks simple.
        return self.n_resolved / self.n_rows if self.n_rows else 1.0


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
        for prefix in _PREFIXES:
            if key.startswith(prefix) and len(key) > len(prefix):
                key, changed = key[len(prefix) :].strip(), True
        for suffix in _SUFFIXES:
            if key.endswith(suffix) and len(key) > len(suffix):
                key, changed = key[: -len(suffix)].strip(), True
    return key


def _country(alpha2: str) -> pycountry.db.Country:
    country = pycountry.countries.get(alpha_2=alpha2)
    assert country is not None, alpha2  # tables above only hold valid codes
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


def location_report(resolved: pd.DataFrame) -> LocationReport:
    """Counts of a `resolve_locations` frame, and its unresolved strings with their counts."""
    missing = resolved["iso3"].isna()
    counts = resolved.loc[missing, "location"].value_counts(sort=False)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    report = LocationReport(
        n_rows=len(resolved),
        n_resolved=int((~missing).sum()),
        unresolved={str(loc): int(n) for loc, n in ordered},
    )
    if report.unresolved:
        logger.info(
            "%d of %d locations unresolved (%d distinct), e.g. %s",
            report.n_unresolved,
            report.n_rows,
            report.n_unresolved_distinct,
            list(report.unresolved)[:5],
        )
    return report


def distinct_locations(resolved: pd.DataFrame) -> pd.DataFrame:
    """Every distinct location with its row count and country, "unresolved" where none.

    Columns: location, n_candidates, country_name, iso3, how; most frequent first.
    """
    table = (
        resolved.groupby("location", sort=False, dropna=False)
        .agg(
            n_candidates=("location", "size"),
            country_name=("country_name", "first"),
            iso3=("iso3", "first"),
            how=("how", "first"),
        )
        .reset_index()
    )
    for column in ("country_name", "iso3", "how"):
        table[column] = table[column].fillna(UNRESOLVED)
    return table.sort_values(
        ["n_candidates", "location"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)
