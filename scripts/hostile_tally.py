"""Issue 13: run the hostile-input battery of tests/hostile and tally the outcomes by kind.

For every CLI case and API request: a clear error (the expected status and message), a
traceback reaching the user, a 5xx, a modified input. The tests assert the same things
case by case; this prints the figures and writes JSON. Point PYTHONPATH at another
checkout's src/ to tally an older version of the code against the same battery:

python scripts/hostile_tally.py --out reports/hostile.json
PYTHONPATH=/tmp/old/src python scripts/hostile_tally.py --out /tmp/hostile-old.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(1, str(ROOT))  # tests.hostile, after any PYTHONPATH given

from tests.hostile.conftest import ROWS, fingerprints, write_candidates  # noqa: E402


def _workspace(folder: Path) -> Path:
    write_candidates(folder / "c.csv")
    (folder / "q.tsv").write_text("query_id\tquery\nq1\thr\nq2\tregistered nurse\n")
    (folder / "p.yaml").write_text("data:\n  clean:\n    expand_abbreviations: true\n")
    return folder


def tally_cli() -> list[dict]:
    from tests.hostile.test_cli_hostile import CASES, invoke

    rows = []
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            ws = _workspace(Path(tmp))
            args = case.build(ws)
            if case.cwd is not None:
                args = [str(ws / a) if (ws / a).exists() else a for a in args]
            before = fingerprints(ws)
            result = invoke(args, Path(case.cwd) if case.cwd else ws)
            after = fingerprints(ws)
        out = result.output
        traceback = "Traceback" in out or not isinstance(result.exception, SystemExit | None)
        rows.append(
            {
                "surface": "cli",
                "kind": case.kind,
                "case": case.name,
                "clear_error": result.exit_code == case.code
                and all(p in out for p in case.expect)
                and not traceback,
                "traceback": traceback,
                "server_error": False,
                "modified_input": any(after.get(k) != v for k, v in before.items()),
            }
        )
    return rows


def tally_api() -> list[dict]:
    import pytest
    from starlette.testclient import TestClient

    from shortlister.serve.app import create_app
    from shortlister.serve.settings import ServeSettings
    from tests.hostile.test_api_hostile import AUTH, JSON, REQUESTS, TOKEN, XSS

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_candidates(folder / "c.csv", [*ROWS, ("7", XSS, "x", "")])
        before = fingerprints(folder)
        mp = pytest.MonkeyPatch()
        mp.setenv("SHORTLISTER_API_TOKEN", TOKEN)
        settings = ServeSettings(candidates=str(folder / "c.csv"), methods=["tfidf", "sbert"])
        app = create_app(settings)
        mp.undo()
        client = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)
        for req in REQUESTS:
            headers = {**JSON, **(AUTH if req.auth else {}), **req.headers}
            try:
                response = client.request(req.method, req.path, content=req.body, headers=headers)
                status, text = response.status_code, response.text
            except Exception as exc:  # the client itself failed: counts as a server error
                status, text = 599, repr(exc)
            rows.append(
                {
                    "surface": "api",
                    "kind": req.kind,
                    "case": req.name,
                    "clear_error": status == req.status and all(p in text for p in req.expect),
                    "traceback": "Traceback" in text,
                    "server_error": status >= 500,
                    "modified_input": fingerprints(folder) != before,
                }
            )
    return rows


def summarise(rows: list[dict]) -> dict[str, dict[str, int]]:
    by_kind: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        key = f"{row['surface']}:{row['kind']}"
        by_kind[key]["tried"] += 1
        for field in ("clear_error", "traceback", "server_error", "modified_input"):
            by_kind[key][field] += int(row[field])
    return {k: dict(v) for k, v in sorted(by_kind.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "hostile.json")
    args = parser.parse_args()
    import shortlister

    rows = tally_cli() + tally_api()
    summary = summarise(rows)
    header = f"{'kind':<22}{'tried':>6}{'clear':>7}{'tracebacks':>12}{'5xx':>5}{'modified':>10}"
    print(f"shortlister from {Path(shortlister.__file__).parent}")
    print(header)
    for kind, s in summary.items():
        print(
            f"{kind:<22}{s['tried']:>6}{s['clear_error']:>7}{s['traceback']:>12}"
            f"{s['server_error']:>5}{s['modified_input']:>10}"
        )
    total = {f: sum(s[f] for s in summary.values()) for f in next(iter(summary.values()))}
    print(f"{'total':<22}{total['tried']:>6}{total['clear_error']:>7}{total['traceback']:>12}"
          f"{total['server_error']:>5}{total['modified_input']:>10}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "total": total, "cases": rows}, indent=2))


if __name__ == "__main__":
    main()
