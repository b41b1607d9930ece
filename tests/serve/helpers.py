"""Helpers shared by the service tests: settings over a small pool, a live server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shortlister.serve.settings import ServeSettings

# TestClient's own Host, 'testserver', is refused by the default serve.allowed_hosts.
LOCAL_URL = "http://127.0.0.1"


def tfidf_settings(candidates: Path, **overrides) -> ServeSettings:
    return ServeSettings(candidates=str(candidates), methods=["tfidf"], **overrides)


@contextmanager
def running_server(app) -> Iterator[str]:
    """The app under a real uvicorn on 127.0.0.1 and a free port; yields its base URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def rank_ok(client, **body) -> dict:
    """POST /rank, which must answer 200; the response's JSON."""
    response = client.post("/rank", json=body)
    assert response.status_code == 200, response.text
    return response.json()
