"""`transformers serve` as a child process on 127.0.0.1: start, wait until it answers, stop.

    with TransformersServer(folder) as server:   # blocks until /health answers
        server.base_url                          # http://127.0.0.1:<free port>/v1
        server.model                             # what the requests' `model` must be

The server is started pinned to one model (`transformers serve <model>`): it loads the
weights before it listens, so a /health answer means the model is ready, and a request
naming any other model is refused with HTTP 400. It runs offline (HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shortlister.llm.backends import LLMError

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"


def serve_available() -> tuple[bool, str]:
    """(True, version) when `transformers serve` can run here, else (False, why not)."""
    try:
        import transformers
        from transformers.utils.import_utils import is_serve_available
    except ImportError as exc:
        return False, f"transformers is not installed ({exc})"
    if not is_serve_available():
        return False, "transformers serve needs its extras: pip install 'transformers[serving]'"
    return True, f"transformers {transformers.__version__}"


def free_port(host: str = HOST) -> int:
    """A port nobody listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class TransformersServer:
    """One `transformers serve` child process for `model` (a local folder or a hub id)."""

    def __init__(
        self,
        model: str,
        port: int | None = None,
        device: str = "auto",
        dtype: str = "auto",
        start_timeout_s: float = 300.0,
        log_path: Path | None = None,
    ) -> None:
        self.model = str(model)
        self.port = port or free_port()
        self.device, self.dtype = device, dtype
        self.start_timeout_s = start_timeout_s
        self.log_path = log_path
        self.start_s: float | None = None  # seconds from launch to the first /health answer
        self._proc: subprocess.Popen | None = None
        self._log = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "transformers.cli.transformers", "serve", self.model,
                "--host", HOST, "--port", str(self.port), "--device", self.device,
                "--dtype", self.dtype, "--log-level", "warning"]  # fmt: skip

    def start(self) -> TransformersServer:
        """Launch the server and block until it answers /health (LLMError if it never does)."""
        ok, reason = serve_available()
        if not ok:
            raise LLMError(reason)
        if self.log_path is None:
            self.log_path = Path(tempfile.mkstemp(prefix="transformers-serve-", suffix=".log")[1])
        self._log = self.log_path.open("wb")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        logger.info("starting %s (log: %s)", " ".join(self.command()), self.log_path)
        t0 = time.perf_counter()
        # Its own process group: stop() ends the server and anything it started, nothing else.
        self._proc = subprocess.Popen(
            self.command(), stdout=self._log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )  # fmt: skip
        try:
            self._wait_healthy(t0)
        except BaseException:
            self.stop()
            raise
        self.start_s = time.perf_counter() - t0
        logger.info("transformers serve ready at %s in %.1fs", self.base_url, self.start_s)
        return self

    def _wait_healthy(self, t0: float) -> None:
        import requests

        url = f"http://{HOST}:{self.port}/health"
        while time.perf_counter() - t0 < self.start_timeout_s:
            if self._proc.poll() is not None:
                raise LLMError(
                    f"transformers serve exited with status {self._proc.returncode} before "
                    f"answering; its log ({self.log_path}) ends:\n{self.log_tail()}"
                )
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass  # not listening yet: it loads the model first
            time.sleep(0.5)
        raise LLMError(
            f"transformers serve did not answer {url} within {self.start_timeout_s:.0f}s; "
            f"its log ({self.log_path}) ends:\n{self.log_tail()}"
        )

    def log_tail(self, n_chars: int = 2000) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        return self.log_path.read_text(errors="replace")[-n_chars:]

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM to the server's process group, SIGKILL after `grace_s`."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                pass  # it exited between poll() and killpg()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> TransformersServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
