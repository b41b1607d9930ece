"""Shared by the recruiter page's browser tests (test_page_*.py): a small pool with
countries, screening scores, identical headlines and a headline holding markup; the
service on it under a real uvicorn; Debian's headless Chromium; small screenshots."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from shortlister.serve.app import create_app
from shortlister.serve.state import build_state
from tests.serve.helpers import running_server, tfidf_settings

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "reports" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
# No downloads, no background traffic: the page must work offline.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SIZES = {"desktop": DESKTOP, "phone": PHONE}

QUERY = "human resources"
ASPIRING = "Aspiring Human Resources Professional"
MARKUP = "<b>HR</b> Generalist <img src=x onerror=alert(1)>"
POOL = [  # id, title, location, screening score
    ("p01", "HR Manager", "London, United Kingdom", 80.0),
    ("p02", "Human Resources Assistant", "Toronto, Ontario, Canada", 55.0),
    ("p03", ASPIRING, "Houston, Texas", 70.0),
    ("p04", ASPIRING, "Berlin, Germany", 40.0),
    ("p05", ASPIRING, "Austin, Texas", 90.0),
    ("p06", ASPIRING, "Chicago, Illinois", 65.0),
    ("p07", "Senior Software Engineer", "Bengaluru, Karnataka, India", 60.0),
    ("p08", "Software Engineer", "Seattle, Washington", 65.0),
    ("p09", "Registered Nurse", "Remote", 75.0),
    ("p10", "Human Resources Business Partner", "Mumbai, India", 85.0),
    ("p11", "Aspiring Teacher", "Paris, France", 50.0),
    ("p12", MARKUP, "New York, New York", 45.0),
    ("p13", "Human Resources Generalist", "Denver, Colorado", 35.0),
    ("p14", "People Operations and Human Resources Coordinator", "Austin, Texas", 72.0),
    ("p15", "Talent Acquisition Specialist", "Dublin, Ireland", 66.0),
    ("p16", "Human Resources Intern", "Sydney, Australia", 20.0),
    ("p17", "Director of Human Resources", "Boston, Massachusetts", 95.0),
    ("p18", "Human Resources Manager", "Madrid, Spain", None),
    ("p19", "Payroll and Human Resources Administrator", "Toronto, Ontario, Canada", 58.0),
    ("p20", "Data Scientist", "Berlin, Germany", 77.0),
    ("p21", "Human Resources Specialist", "Atlanta, Georgia", 61.0),
    ("p22", "Recruiter and Human Resources Associate", "London, United Kingdom", 49.0),
    ("p23", "Nurse Practitioner", "Chicago, Illinois", 30.0),
    ("p24", "Human Resources Consultant", "Houston, Texas", 83.0),
]


def write_pool(path: Path, rows=POOL) -> Path:
    frame = pd.DataFrame(rows, columns=["id", "title", "location", "screening_score"])
    frame.to_csv(path, index=False)
    return path


@contextmanager
def page_server(pool: Path, **overrides: Any) -> Iterator[str]:
    """The service (TF-IDF over `pool`, the repository's reports for the about view) under
    uvicorn in this process; shortlists go to SHORTLISTER_DB (tests/serve/conftest.py)."""
    settings = tfidf_settings(pool, paths={"reports": str(ROOT / "reports")}, **overrides)
    with running_server(create_app(settings, state=build_state(settings))) as url:
        yield url


def launch_browser() -> Iterator[Any]:
    """One headless Chromium; the test is skipped, saying why, when it cannot run."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright==1.65.2)"
    )
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Records what the page's CSP blocked; added through CDP, so the policy does not block it.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


def open_page(browser, url: str, size: str = "desktop", path: str = "/"):
    """A page at `url` + `path` in a fresh context (downloads allowed), and a list the
    page's errors and CSP violations are appended to."""
    context = browser.new_context(viewport=SIZES[size], accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url + path)
    page.wait_for_selector("body[data-ready=true]")  # methods, filters, shortlists loaded
    return page, errors


def close(page, errors: list[str], allowed: tuple[str, ...] = ()) -> None:
    """Closes the page, asserting it raised nothing and the CSP blocked nothing."""
    violations = page.evaluate("() => window.__cspViolations")
    page.context.close()
    unexpected = [e for e in errors if not any(a in e for a in allowed)]
    assert not unexpected, unexpected
    assert not violations, violations


def idle(page) -> None:
    page.wait_for_function("() => !document.body.classList.contains('busy')")


def rerank(page, action) -> list[str]:
    """Does `action` (a callable) and waits for the list it asks for to be drawn."""
    before = int(page.get_attribute("#results-panel", "data-renders") or 0)
    action()
    page.wait_for_function(
        "n => Number(document.getElementById('results-panel').dataset.renders || 0) > n",
        arg=before,
    )
    idle(page)
    return ids(page)


def search(page, query: str = QUERY) -> list[str]:
    page.fill("[data-testid=query]", query)
    return rerank(page, lambda: page.press("[data-testid=query]", "Enter"))


def ids(page) -> list[str]:
    return page.locator("[data-testid=result-row]").evaluate_all(
        "rows => rows.map(r => r.dataset.id)"
    )


def starred(page) -> list[str]:
    return page.locator("[data-testid=result-row][data-starred=true]").evaluate_all(
        "rows => rows.map(r => r.dataset.id)"
    )


def star(page, cid: str, n_starred_after: int) -> None:
    page.locator(f"[data-testid=result-row][data-id='{cid}'] [data-testid=star-toggle]").click()
    wait_starred(page, n_starred_after)


def wait_starred(page, n: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=result-row][data-starred=true]')"
        ".length === n",
        arg=n,
    )
    idle(page)


def wait_saved(page) -> None:
    """Every change saved: the status says so (it says "Saving…" while one is pending)."""
    page.wait_for_function(
        "() => document.getElementById('save-status').textContent.startsWith('Saved')"
    )


def rows_text(page, testid: str) -> list[str]:
    return page.locator(f"[data-testid=result-row] [data-testid={testid}]").all_text_contents()


def shot(page, name: str, *, colours: int = 64) -> Path:
    """A viewport screenshot at reports/screenshots/<name>.png, reduced to a small palette
    (the page has few colours) so the tracked file stays small."""
    from PIL import Image

    image = Image.open(io.BytesIO(page.screenshot()))
    small = image.convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    small.save(path, optimize=True)
    return path


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def post_json(url: str, body: dict) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_process(pool: Path, db: Path, port: int, cwd: Path) -> Iterator[str]:
    """`shortlister serve` in a process of its own (TF-IDF over `pool`, shortlists in
    `db`) on 127.0.0.1:`port`; yields its URL once /health answers, stops it after."""
    env = {**os.environ, "SHORTLISTER_DB": str(db)}
    env.pop("SHORTLISTER_API_TOKEN", None)
    command = [
        sys.executable, "-m", "shortlister.cli", "serve", "--candidates", str(pool),
        "--method", "tfidf", "--port", str(port), "--params", str(cwd / "no-params.yaml"),
    ]  # fmt: skip
    log = (cwd / f"serve-{port}-{time.monotonic_ns()}.log").open("w")
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"shortlister serve exited: {Path(log.name).read_text()}")
            try:
                get_json(url + "/health")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"no answer from {url}: {Path(log.name).read_text()}"
                    ) from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
