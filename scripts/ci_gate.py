"""CI regression gate: run the pipeline on the small config and compare with the baseline.

python scripts/ci_gate.py            # fail on a drop beyond the tolerance
python scripts/ci_gate.py --update   # write a new baseline (commit it with a reason)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shortlister.core.logs import configure_logging
from shortlister.stages.sandbox import run_pipeline

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "baselines" / "ci-small.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--update", action="store_true", help="overwrite the baseline")
    parser.add_argument("--tolerance", type=float, default=0.02)
    args = parser.parse_args()
    configure_logging()
    work = Path(tempfile.mkdtemp(prefix="shortlister-gate-"))
    try:
        t0 = time.perf_counter()
        proc = run_pipeline(ROOT, work / "project", ["data=small"])
        print(f"pipeline (data=small) finished in {time.perf_counter() - t0:.0f}s", flush=True)
        if proc.returncode != 0:
            print(proc.stdout[-5000:], proc.stderr[-5000:], sep="\n", file=sys.stderr)
            return proc.returncode
        current = work / "project" / "reports" / "metrics.json"
        if args.update:
            shutil.copy(current, BASELINE)
            print(f"baseline written to {BASELINE}")
            return 0
        return subprocess.call(
            [
                sys.executable,
                "-m",
                "shortlister.cli",
                "check-regression",
                "--current",
                str(current),
                "--baseline",
                str(BASELINE),
                "--tolerance",
                str(args.tolerance),
            ]
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
