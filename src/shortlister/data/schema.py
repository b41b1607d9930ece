"""The candidate data contract: column names and the limits the loader enforces.

Every candidate table that leaves the loader has the columns ``id, title, location,
screening_score``, then any extra columns from the file (as strings, untouched), then
``source_row``. Later steps import these names rather than spelling the strings.
"""

from __future__ import annotations

ID = "id"
TITLE = "title"
LOCATION = "location"
SCREENING_SCORE = "screening_score"

# Real LinkedIn-style exports call the title column `job_title`.
TITLE_ALIASES: tuple[str, ...] = ("job_title",)

# Added by the loader: 1-based data row number (header not counted), so that every later
# step can name the row a recruiter has to fix.
SOURCE_ROW = "source_row"
# Added by the cleaner.
TITLE_RAW = "title_raw"
REASON = "reason"
# Added by the loader, dropped by the cleaner: the score as the file wrote it ("7", not
# 7.0), so rejected rows are echoed back unchanged.
SCORE_TEXT = "screening_score_text"

REQUIRED_COLUMNS: tuple[str, ...] = (ID, TITLE, LOCATION)
CONTRACT_COLUMNS: tuple[str, ...] = (ID, TITLE, LOCATION, SCREENING_SCORE)
# Columns the pipeline adds itself; a file that already has them would be ambiguous.
RESERVED_COLUMNS: tuple[str, ...] = (SOURCE_ROW, TITLE_RAW, REASON, SCORE_TEXT)

SCORE_MIN = 0.0
SCORE_MAX = 100.0

# Extension -> default delimiter. `.txt` exports from spreadsheet tools are tab-separated.
CSV_DELIMITERS: dict[str, str] = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
PARQUET_EXTENSIONS: tuple[str, ...] = (".parquet", ".pq")
SUPPORTED_EXTENSIONS: tuple[str, ...] = (*CSV_DELIMITERS, *PARQUET_EXTENSIONS)

# Delimiters we recognise when a header collapses into one column.
SUSPECT_DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")

ENCODING = "utf-8"
