"""The place names a free-text location is matched against, country by ISO alpha-2.

`shortlister.data.locations.resolve` tries them in this order: `AMBIGUOUS`, `METROS`,
pycountry's country names, `ALIASES`, `CITIES`, then pycountry's subdivisions of
`SUBDIVISION_COUNTRIES`; codes ("TX", "ON") come from `CODE_COUNTRIES` and
`CANADIAN_CODES`. `PREFIXES` and `SUFFIXES` are the decorations stripped before the city
and subdivision look-ups.
"""

from __future__ import annotations

from typing import Literal

How = Literal["country", "alias", "subdivision", "city", "metro"]

# Keys are compared after `resolve._key` (no accents, lower case, no dots). Values are ISO alpha-2.
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
PREFIXES = (
    "greater ", "metropolitan ", "metro ", "region of ", "region de ", "grande ",
    "area metropolitana de ", "regiao metropolitana de ", "metropolregion ",
)  # fmt: skip
SUFFIXES = (
    " metropolitan area", " metro area", " area", " metro", " region", " und umgebung",
    " y alrededores", " e regiao", " sheng", " shi",
)  # fmt: skip
