"""A messy LinkedIn-style headline around a BLS title: a weighted template (with invented
companies, schools and taglines), then abbreviations, a typo and odd casing, each at its rate."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from shortlister.data.default.config import GenerateConfig

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



def pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _company(rng: np.random.Generator) -> str:
    return f"{pick(rng, COMPANY_HEADS)} {pick(rng, COMPANY_TAILS)}"


def _university(rng: np.random.Generator) -> str:
    return pick(rng, UNIVERSITY_PATTERNS).format(town=pick(rng, TOWNS))


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
        tagline=pick(rng, TAGLINES).format(company=_company(rng)),
        tagline2=pick(rng, TAGLINES).format(company=_company(rng)),
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


def headline(title: str, cfg: GenerateConfig, rng: np.random.Generator) -> tuple[str, int]:
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
