"""Start-up of a tfidf-only service: import time of `shortlister.serve.app`, whether torch
is imported, and process start until `/health` answers (medians of --repeats).

A tfidf service needs no torch; importing it anyway cost about 3 s of start-up (issue 15).
Each run is a fresh interpreter in an empty folder (no params.yaml, so no trained ranker is
picked up) on a generated pool. Writes reports/benchmarks/serve_startup.json by default.

    python benchmarks/serve_startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import csv
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORT = (
    "import sys, time; t = time.perf_counter(); import shortlister.serve.app; "
    "print(time.perf_counter() - t, 'torch' in sys.modules)"
)
TITLES = [
    "Aspiring Human Resources Professional",
    "HR Manager",
    "Software Engineer",
    "Data Scientist | Python",
    "Recruiter and talent partner",
    "Payroll specialist",
]


def write_pool(path: Path, n: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "title", "location", "screening_score"])
        for i in range(n):
            writer.writerow([f"c{i}", f"{TITLES[i % 6]} {i // 6}", "Houston, Texas", i % 100])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_once(pool: Path, folder: Path, timeout_s: float = 120.0) -> tuple[float, bool]:
    """Seconds from process start to a /health answer, and whether libtorch was mapped."""
    port = free_port()
    cmd = [sys.executable, "-m", "shortlister.cli", "--log-level", "WARNING", "serve",
           "--method", "tfidf", "--candidates", str(pool), "--port", str(port)]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - t0 > timeout_s:
                    raise SystemExit(f"the service did not start: {' '.join(cmd)}") from None
                time.sleep(0.05)
        seconds = time.perf_counter() - t0
        maps = Path(f"/proc/{proc.pid}/maps")
        torch_mapped = maps.exists() and "libtorch" in maps.read_text()
        return seconds, torch_mapped
    finally:
        proc.terminate()
        proc.wait()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pool-size", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "reports/benchmarks/serve_startup.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="shortlister-startup-") as tmp:
        folder = Path(tmp)
        pool = folder / "candidates.csv"
        write_pool(pool, args.pool_size)
        imports, torch_imported = [], []
        for _ in range(args.repeats):
            out = subprocess.run([sys.executable, "-c", IMPORT], cwd=folder, capture_output=True,
                                 text=True, check=True).stdout.split()  # fmt: skip
            imports.append(float(out[0]))
            torch_imported.append(out[1] == "True")
        starts = [start_once(pool, folder) for _ in range(args.repeats)]
    result = {
        "pool_size": args.pool_size,
        "repeats": args.repeats,
        "import_s_median": round(statistics.median(imports), 3),
        "startup_s_median": round(statistics.median(s for s, _ in starts), 3),
        "torch_imported_by_app": any(torch_imported),
        "torch_mapped_by_service": any(m for _, m in starts),
        "import_s": [round(v, 3) for v in imports],
        "startup_s": [round(s, 3) for s, _ in starts],
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
