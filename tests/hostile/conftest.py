"""Shared pieces of the hostile-input suite: a small workspace and its fingerprints."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

ROWS = [
    ("1", "HR Senior Specialist", "Austin, Texas", "7"),
    ("2", "Aspiring Human Resources Professional", "Houston, Texas", "80"),
    ("3", "Software Engineer | Python", "Berlin, Germany", "55"),
    ("4", "Registered Nurse", "Chicago, Illinois", ""),
    ("5", "Native English Teacher at EPIK", "Kanada", "40"),
    ("6", "Human Resources Generalist at Acme", "Raleigh, North Carolina", "65"),
]


def write_candidates(path: Path, rows=ROWS, header=("id", "title", "location", "screening_score")):
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def fingerprints(folder: Path) -> dict[str, str]:
    """sha256 of every regular file under `folder` that existed as an input."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    """c.csv (6 candidates), q.tsv (2 queries), p.yaml (a params file)."""
    write_candidates(tmp_path / "c.csv")
    (tmp_path / "q.tsv").write_text("query_id\tquery\nq1\thr\nq2\tregistered nurse\n")
    (tmp_path / "p.yaml").write_text("data:\n  clean:\n    expand_abbreviations: true\n")
    return tmp_path
