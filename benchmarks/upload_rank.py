"""Upload to ranked: POST /pools/upload of a candidate file, then the first /rank of each
served method on the new pool, over real HTTP (uvicorn on 127.0.0.1, in this process).

Files: (a) the real Potential Talents export (104 rows, ../shared/data/potential_talents.csv,
see SOURCES.md; skipped with the reason when absent) and (b) a generated file of
--n-generated rows (shortlister.data.default, the project's default-dataset generator).
The service starts over a generated pool of --pool-size rows with --methods; each file is
uploaded --repeats times (replace, then join onto the starting pool), each followed by a
first (uncached) and a second (cached) /rank per method. Medians; the server's own split
(read, validate, rebuild) comes from the upload's response.

    python benchmarks/upload_rank.py                      # tfidf and sbert, 10,000 rows
    python benchmarks/upload_rank.py --methods tfidf --repeats 5

Writes reports/benchmarks/upload_rank.json by default.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from shortlister.core.logs import configure_logging
from shortlister.data.default.build import generate_default_dataset
from shortlister.data.default.config import GenerateConfig
from shortlister.data.writers import write_csv
from shortlister.serve.app import create_app
from shortlister.serve.settings import ServeSettings
from shortlister.serve.state import build_state

logger = logging.getLogger("upload_rank")

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "potential_talents.csv"
QUERY = "aspiring human resources"


def generated(path: Path, n: int, prefix: str) -> Path:
    """`n` default-dataset candidates, ids prefixed (a join must not collide)."""
    candidates = generate_default_dataset(GenerateConfig(n_candidates=n, n_queries=5)).candidates
    write_csv(candidates.assign(id=prefix + candidates["id"].astype(str)), path)
    return path


def post(url: str, body: bytes, content_type: str, timeout: float = 600) -> dict[str, Any]:
    request = urllib.request.Request(url, body, {"Content-Type": content_type}, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def upload(base: str, path: Path, mode: str) -> tuple[float, dict[str, Any]]:
    """(client seconds, response) of one multipart upload."""
    boundary = uuid.uuid4().hex
    body = b"".join(
        [
            f'--{boundary}\r\nContent-Disposition: form-data; name="mode"\r\n\r\n{mode}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{path.name}"\r\nContent-Type: text/csv\r\n\r\n'.encode(),
            path.read_bytes(),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    t0 = time.perf_counter()
    found = post(f"{base}/pools/upload", body, f"multipart/form-data; boundary={boundary}")
    return time.perf_counter() - t0, found


def rank_ms(base: str, method: str) -> float:
    body = json.dumps({"query": QUERY, "method": method, "top_k": 20}).encode()
    t0 = time.perf_counter()
    post(f"{base}/rank", body, "application/json")
    return (time.perf_counter() - t0) * 1e3


class Server:
    """uvicorn on 127.0.0.1 and a free port, in a thread of this process."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise SystemExit("uvicorn did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def __exit__(self, *_: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def measure(base: str, path: Path, mode: str, methods: list[str]) -> dict[str, Any]:
    seconds, found = upload(base, path, mode)
    first = {m: rank_ms(base, m) for m in methods}
    second = {m: rank_ms(base, m) for m in methods}
    return {
        "upload_s": seconds,
        "server": found["timing"],
        "accepted": found["accepted"],
        "rejected": found["rejected"],
        "n_candidates": found["n_candidates"],
        "served": found["methods"],
        "first_rank_ms": first,
        "second_rank_ms": second,
        "to_ranked_s": {m: seconds + first[m] / 1e3 for m in methods},
    }


def summarise(runs: list[dict[str, Any]], methods: list[str]) -> dict[str, Any]:
    med = statistics.median
    last = runs[-1]
    return {
        "accepted": last["accepted"],
        "rejected": last["rejected"],
        "n_candidates": last["n_candidates"],
        "served": last["served"],
        "upload_s": round(med(r["upload_s"] for r in runs), 3),
        "server_s": {
            k: round(med(r["server"][k] for r in runs), 3)
            for k in last["server"]
            if k != "methods_s"
        },
        "rebuild_s_by_method": {
            m: round(med(r["server"]["methods_s"][m] for r in runs), 3)
            for m in last["server"]["methods_s"]
        },
        "first_rank_ms": {m: round(med(r["first_rank_ms"][m] for r in runs), 1) for m in methods},
        "second_rank_ms": {m: round(med(r["second_rank_ms"][m] for r in runs), 1) for m in methods},
        "upload_to_ranked_s": {
            m: round(med(r["to_ranked_s"][m] for r in runs), 3) for m in methods
        },
        "upload_s_all": [round(r["upload_s"], 3) for r in runs],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["tfidf", "sbert"])
    parser.add_argument("--pool-size", type=int, default=1000)
    parser.add_argument("--n-generated", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "reports/benchmarks/upload_rank.json")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    result: dict[str, Any] = {
        "methods": args.methods,
        "start_pool": args.pool_size,
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "query": QUERY,
        "files": {},
        "skipped": {},
    }
    with tempfile.TemporaryDirectory(prefix="shortlister-upload-bench-") as tmp:
        folder = Path(tmp)
        start = generated(folder / "start.csv", args.pool_size, "s")
        files = {f"generated_{args.n_generated}": generated(
            folder / "generated.csv", args.n_generated, "g"
        )}  # fmt: skip
        if REAL.is_file():
            files = {"potential_talents_104": REAL, **files}
        else:
            result["skipped"]["potential_talents_104"] = f"{REAL} is absent (see SOURCES.md)"
        settings = ServeSettings(candidates=str(start), methods=args.methods)
        state = build_state(settings)
        with Server(create_app(settings, state=state)) as base:
            for label, path in files.items():
                for mode in ("replace", "join"):
                    runs = []
                    for _ in range(args.repeats):
                        # back to the starting pool, so every join joins the same pool
                        upload(base, start, "replace")
                        runs.append(measure(base, path, mode, args.methods))
                    result["files"][f"{label}/{mode}"] = summarise(runs, args.methods)
                    print(f"{label} ({mode}): {json.dumps(result['files'][f'{label}/{mode}'])}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
