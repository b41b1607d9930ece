"""The default candidate rows: real headlines, exact duplicates under new ids and rows with
a missing or placeholder title, each with a free-text location and a screening score."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shortlister.data.default.config import GenerateConfig
from shortlister.data.default.headlines import headline, pick

BAD_TITLES: tuple[str, ...] = ("", "N/A", "-", "none", "???")

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


def sample_candidates(
    pool: pd.DataFrame, cfg: GenerateConfig, rng: np.random.Generator
) -> pd.DataFrame:
    """All rows (real, duplicated, bad-title) in final order with ids; labels attached."""
    n_bad = round(cfg.n_candidates * cfg.bad_title_rate)
    n_dup = round(cfg.n_candidates * cfg.duplicate_rate)
    n_real = cfg.n_candidates - n_bad - n_dup
    picks = rng.choice(len(pool), size=n_real, p=pool["weight"].to_numpy())
    real = pool.iloc[picks][["raw", "occupation", "category"]].reset_index(drop=True)
    made = [headline(t, cfg, rng) for t in real["raw"]]
    real["title"] = [text for text, _ in made]
    real["level"] = [level for _, level in made]

    bad = pd.DataFrame(
        {
            "raw": "",
            "occupation": "",
            "category": "",
            "title": [pick(rng, BAD_TITLES) for _ in range(n_bad)],
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


def _scores(levels: np.ndarray, missing_rate: float, rng: np.random.Generator) -> np.ndarray:
    # Experienced-looking headlines score higher on average, but only loosely.
    raw = rng.normal(55.0 + 10.0 * levels, 15.0)
    scores = np.round(np.clip(raw, 0.0, 100.0), 1)
    scores[rng.random(len(levels)) < missing_rate] = np.nan
    return scores
