"""HTTP round-trip latency of POST /rank under concurrent load, against a real server.

    python benchmarks/http_load.py                       # default pool; tfidf and sbert
    python benchmarks/http_load.py --clients 8 --requests 100 --max-seconds 60 --methods tfidf
    python benchmarks/http_load.py --candidates candidates.csv --methods tfidf

Starts `shortlister serve` in a second process on 127.0.0.1 and a free port, waits for
/health, then runs --clients threads, each sending --requests requests over one keep-alive
connection, the way a recruiter uses the page: a query, three star toggles on it, a
clear, then the next query (the default data's queries, or a built-in list). A client
stops early at --max-seconds. Prints p50/p95/p99/max per method and request kind, the
throughput and the errors; exits 1 when any request failed.

Clients and server share this machine's cores, so the figures are an upper bound on the
server's own latency.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FALLBACK_QUERIES = [
    "aspiring human resources",
    "seeking human resources",
    "registered nurse",
    "software engineer",
    "data analyst",
    "sales manager",
    "teacher",
    "accountant",
]


@dataclass
class Samples:
    latency_ms: dict[str, list[float]] = field(default_factory=dict)
    server_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, ms: float, server_ms: float) -> None:
        with self.lock:
            self.latency_ms.setdefault(kind, []).append(ms)
            self.server_ms.setdefault(kind, []).append(server_ms)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "shortlister.cli", "--log-level", "WARNING", "serve"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--params", str(args.params)]
    for method in args.methods:
        cmd += ["--method", method]
    if args.candidates:
        cmd += ["--candidates", str(args.candidates)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("SHORTLISTER_API_TOKEN", None)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_ready(proc: subprocess.Popen, port: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            health = json.loads(conn.getresponse().read())
            conn.close()
            return health
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"server not ready after {timeout:.0f}s")


def load_queries(path: Path) -> list[str]:
    if not path.exists():
        return FALLBACK_QUERIES
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t")[1] for line in lines if line.strip()]


def client(n: int, port: int, method: str, queries: list[str], args, out: Samples) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    deadline = time.monotonic() + args.max_seconds
    stars: list[str] = []
    items: list[dict] = []
    query = queries[n % len(queries)]
    for i in range(args.requests):
        if time.monotonic() > deadline:
            break
        step = i % 5
        if step == 0:  # a new search
            query, stars = queries[(n + i // 5 * args.clients) % len(queries)], []
        elif step == 4:  # clear the stars
            stars = []
        else:  # star one more candidate from the current list
            fresh = [it["id"] for it in items if it["id"] not in stars]
            stars = [*stars, fresh[min(4, len(fresh) - 1)]] if fresh else stars
        body = json.dumps({"query": query, "stars": stars, "method": method, "top_k": 20})
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/rank", body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            payload = json.loads(response.read())
        except (OSError, http.client.HTTPException, ValueError) as exc:
            out.errors.append(f"{method}: {exc!r}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        ms = (time.perf_counter() - t0) * 1e3
        if response.status != 200:
            out.errors.append(f"{method}: HTTP {response.status} {payload}")
            continue
        items = payload["items"]
        timing = payload["timing"]
        kind = (
            "star toggle"
            if step
            else ("query (cached)" if timing["query_cached"] else "query (encoded)")
        )
        out.add(kind, ms, timing["total_ms"])
    conn.close()


def run_method(port: int, method: str, queries: list[str], args) -> tuple[Samples, float]:
    samples = Samples()
    threads = [
        threading.Thread(target=client, args=(n, port, method, queries, args, samples))
        for n in range(args.clients)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples, time.perf_counter() - t0


def print_table(results: list[tuple[str, Samples, float]], n_candidates: int, clients: int) -> None:
    from tabulate import tabulate

    rows = []
    for method, samples, seconds in results:
        every = [ms for v in samples.latency_ms.values() for ms in v]
        groups = [("all", every, [s for v in samples.server_ms.values() for s in v])]
        groups += [
            (k, samples.latency_ms[k], samples.server_ms[k]) for k in sorted(samples.latency_ms)
        ]
        for kind, values, server in groups:
            if not values:
                continue
            p = np.percentile(values, [50, 95, 99])
            rows.append(
                [
                    method,
                    kind,
                    len(values),
                    f"{p[0]:.1f}",
                    f"{p[1]:.1f}",
                    f"{p[2]:.1f}",
                    f"{max(values):.1f}",
                    f"{np.percentile(server, 50):.2f}",
                    f"{len(every) / seconds:.0f}" if kind == "all" else "",
                    len(samples.errors) if kind == "all" else "",
                ]
            )
    headers = [
        "method",
        "requests",
        "n",
        "p50",
        "p95",
        "p99",
        "max",
        "server p50",
        "req/s",
        "errors",
    ]
    print(f"POST /rank round trips, {clients} concurrent clients, {n_candidates:,} candidates (ms)")
    print(
        tabulate(
            rows, headers=headers, disable_numparse=True, colalign=["left", "left"] + ["right"] * 8
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--methods", nargs="+", default=["tfidf", "sbert"])
    parser.add_argument("--candidates", type=Path, help="candidate file [default: pipeline pool]")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--queries", type=Path, default=Path("data/raw/default/queries.tsv"))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=100, help="per client")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="per method")
    parser.add_argument("--startup-timeout", type=float, default=180.0)
    args = parser.parse_args(argv)
    queries = load_queries(args.queries)
    port = free_port()
    proc = start_server(args, port)
    try:
        health = wait_ready(proc, port, args.startup_timeout)
        results = []
        for method in args.methods:
            samples, seconds = run_method(port, method, queries, args)
            results.append((method, samples, seconds))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    print_table(results, health["n_candidates"], args.clients)
    errors = [e for _, s, _ in results for e in s.errors]
    for error in errors[:10]:
        print("error:", error, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
