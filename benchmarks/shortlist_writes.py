"""Saved-shortlist writes per second: through the HTTP API under concurrent clients, and
through the store alone. Checks afterwards that no write was lost.

    python benchmarks/shortlist_writes.py                    # 8 threads x 25 requests
    python benchmarks/shortlist_writes.py --threads 16 --requests 100 --db /tmp/s.db

Serves a generated 600-candidate pool (method tfidf) with uvicorn on 127.0.0.1 in this
process, on a fresh SQLite file (or --db: a path or an SQLAlchemy URL). Each client
thread owns two candidates of one of --shortlists shortlists and stars them with a new
note, or unstars them, over one keep-alive connection; at the end every shortlist must
hold exactly the stars and notes its threads last wrote. Clients, server and SQLite
share this machine's cores (and one interpreter's GIL), so the HTTP figure is a lower
bound on the server's own. Writes reports/benchmarks/shortlist_writes.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from shortlister.data.default.build import generate_default_dataset
from shortlister.data.default.config import GenerateConfig
from shortlister.data.writers import write_csv
from shortlister.serve.app import create_app
from shortlister.serve.settings import ServeSettings
from shortlister.serve.shortlists import ShortlistStore
from shortlister.serve.state import build_state

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def running_server(app) -> Iterator[str]:
    """The app under uvicorn on 127.0.0.1 and a free port, in a thread; its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def client(url: str, thread: int, sid: int, own: list[str], n: int, expected: dict) -> None:
    """n star, unstar and note edits on this thread's own candidates, over keep-alive;
    records in `expected` the state each (shortlist, candidate) must end in. The test
    test_concurrent_writes_lose_nothing runs this same load."""
    import httpx2 as httpx

    rng = random.Random(thread)
    with httpx.Client(base_url=url, timeout=60) as http:
        for i in range(n):
            cid = own[i % len(own)]
            if rng.random() < 0.3:
                response = http.delete(f"/shortlists/{sid}/stars/{cid}")
                expected[sid, cid] = None
            else:
                note = f"thread {thread} edit {i}"
                response = http.put(f"/shortlists/{sid}/stars/{cid}", json={"note": note})
                expected[sid, cid] = note
            response.raise_for_status()


def lost_writes(store: ShortlistStore, sids: list[int], expected: dict) -> int:
    """Stars and notes saved that differ from what `client` last wrote (0: none lost)."""
    lost = 0
    for sid in sids:
        saved = {s.candidate_id: s.note for s in store.get(sid).stars}
        wanted = {c: n for (s, c), n in expected.items() if s == sid and n is not None}
        lost += len(set(saved.items()) ^ set(wanted.items()))
    return lost


def http_run(app, ids: list[str], args: argparse.Namespace) -> dict:
    store = app.state.shortlists
    sids = [store.create(f"bench {i}").id for i in range(args.shortlists)]
    expected: dict = {}
    with running_server(app) as url:
        threads = [
            threading.Thread(
                target=client,
                args=(url, t, sids[t % len(sids)], ids[2 * t : 2 * t + 2], args.requests, expected),
            )  # fmt: skip
            for t in range(args.threads)
        ]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
    n = args.threads * args.requests
    return {
        "requests": n,
        "seconds": round(elapsed, 3),
        "requests_per_s": round(n / elapsed, 1),
        "lost_writes": lost_writes(store, sids, expected),
        "complete": len(expected) == 2 * args.threads,
    }


def store_run(store: ShortlistStore, ids: list[str], args: argparse.Namespace) -> dict:
    sids = [store.create(f"store {i}").id for i in range(args.shortlists)]

    def work(t: int) -> None:
        for i in range(args.requests):
            store.star(sids[t % len(sids)], ids[2 * t + i % 2], f"edit {i}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(args.threads)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    n = args.threads * args.requests
    return {"writes": n, "seconds": round(elapsed, 3), "writes_per_s": round(n / elapsed, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--requests", type=int, default=25, help="per thread")
    parser.add_argument("--shortlists", type=int, default=4)
    parser.add_argument("--db", help="SQLite path or SQLAlchemy URL [default: a new temp file]")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "reports" / "benchmarks" / "shortlist_writes.json"
    )
    args = parser.parse_args()
    if 2 * args.threads > 600 or 2 * args.threads / args.shortlists > 5:
        parser.error("each shortlist gets 2 candidates a thread; keep that under max_stars (5)")
    with tempfile.TemporaryDirectory() as tmp:
        pool = Path(tmp) / "candidates.csv"
        dataset = generate_default_dataset(GenerateConfig(n_candidates=600, n_queries=5))
        write_csv(dataset.candidates, pool)
        db = args.db or str(Path(tmp) / "shortlists.db")
        settings = ServeSettings(candidates=str(pool), methods=["tfidf"], db=db)
        state = build_state(settings)
        app = create_app(settings, state=state)
        ids = [state.rows[i]["id"] for i in range(2 * args.threads)]
        report = {
            "database": "sqlite (WAL, synchronous=NORMAL)" if args.db is None else "given",
            "threads": args.threads,
            "requests_per_thread": args.requests,
            "shortlists": args.shortlists,
            "http": http_run(app, ids, args),
            "store": store_run(app.state.shortlists, ids, args),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}",
        }
        app.state.shortlists.close()
    print(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    ok = report["http"]["lost_writes"] == 0 and report["http"]["complete"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
