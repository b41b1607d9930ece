"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 that scripts
its answers: rate limits, server errors, slow answers, garbage; both endpoints; where the
URL and the key come from."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shortlister.core.errors import ConfigError
from shortlister.llm.backends import LLMError, backend_available, build_backend
from shortlister.llm.config import LLMConfig
from shortlister.llm.openai_api import OpenAIBackend, resolve_base_url
from shortlister.llm.prompts import build_messages
from shortlister.llm.rerank import LLMReranker

KEY_ENV = "SHORTLISTER_TEST_LLM_KEY"
CANDS = [("c1", "Teacher"), ("c2", "HR Generalist"), ("c3", "Nurse"), ("c4", "HR Assistant")]


def completion(content: str) -> dict:
    return {
        "id": "x",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57},
    }


class Script:
    """Responses served in order, then `default`; records the requests."""

    def __init__(self) -> None:
        self.steps: list[tuple] = []
        self.requests: list[dict] = []
        self.default = (200, completion("Ranking: c2, c4, c1, c3"), {}, 0.0)

    def next(self) -> tuple:
        return self.steps.pop(0) if self.steps else self.default


def handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            script.requests.append({"path": self.path, "auth": self.headers["Authorization"],
                                    "body": body})  # fmt: skip
            status, payload, headers, delay = script.next()
            time.sleep(delay)
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            try:
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and hung up

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture(autouse=True)
def _no_ambient_openai_env(monkeypatch) -> None:
    for env in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "GROQ_API_KEY"):
        monkeypatch.delenv(env, raising=False)


@pytest.fixture()
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler(script))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", script
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def backend(server, monkeypatch) -> OpenAIBackend:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    url, _ = server
    return build_backend(_cfg(url))


def _cfg(url: str, **openai) -> dict:
    api = {"base_url": url, "model": "llama-3.1-8b-instant", "api_key_env": KEY_ENV,
           "timeout_s": 0.5, "max_retries": 2, "backoff_s": 0.01, **openai}  # fmt: skip
    return {"backend": "openai", "max_new_tokens": 64, "openai": api}


MESSAGES = build_messages("human resources", CANDS)


def test_success_sends_a_chat_completion(backend, server):
    _, script = server
    [gen] = backend.generate([MESSAGES])
    assert gen.text == "Ranking: c2, c4, c1, c3"
    assert (gen.prompt_tokens, gen.completion_tokens) == (50, 7) and gen.latency_s > 0
    request = script.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "llama-3.1-8b-instant"
    assert request["body"]["messages"] == MESSAGES and request["body"]["temperature"] == 0.0
    assert request["body"]["max_tokens"] == 64


def test_429_with_retry_after_then_success(backend, server):
    _, script = server
    script.steps = [(429, {"error": "rate limited"}, {"Retry-After": "0.3"}, 0.0)]
    t0 = time.perf_counter()
    [gen] = backend.generate([MESSAGES])
    assert gen.text.startswith("Ranking:") and len(script.requests) == 2
    assert time.perf_counter() - t0 >= 0.3  # Retry-After honoured


def test_500_then_success(backend, server):
    _, script = server
    script.steps = [(500, "oops", {}, 0.0), (503, "busy", {}, 0.0)]
    assert backend.generate([MESSAGES])[0].text.startswith("Ranking:")
    assert len(script.requests) == 3


def test_slow_answer_times_out_then_success(backend, server):
    _, script = server
    script.steps = [(200, completion("Ranking: c1"), {}, 1.0)]
    assert backend.generate([MESSAGES])[0].text == "Ranking: c2, c4, c1, c3"
    assert len(script.requests) == 2


def test_garbage_json_is_retried_then_a_clear_error(backend, server):
    _, script = server
    script.steps = [(200, "<html>not json", {}, 0.0)]
    assert backend.generate([MESSAGES])[0].text.startswith("Ranking:")
    script.default = (200, {"choices": []}, {}, 0.0)
    with pytest.raises(LLMError, match=r"3 attempt\(s\).*choices\[0\]\.message\.content"):
        backend.generate([MESSAGES])


def test_persistent_429_gives_a_clear_error_after_the_last_retry(backend, server):
    _, script = server
    script.default = (429, {"error": "rate limited"}, {"Retry-After": "0"}, 0.0)
    with pytest.raises(LLMError, match=r"no answer after 3 attempt\(s\); last error: HTTP 429"):
        backend.generate([MESSAGES])


def test_unauthorized_is_not_retried_and_names_the_key(backend, server):
    _, script = server
    script.default = (401, {"error": "invalid key"}, {}, 0.0)
    with pytest.raises(
        LLMError, match=re.escape(f"HTTP 401 (check the key in ${KEY_ENV} or $OPENAI")
    ):
        backend.generate([MESSAGES])
    assert len(script.requests) == 1


def test_garbage_answer_text_is_repaired_by_the_parser(backend, server):
    _, script = server
    script.default = (200, completion("<think>hmm c3</think>I like **C4** and c9, then c4 again"),
                      {}, 0.0)  # fmt: skip
    result = LLMReranker(backend, window=4, step=2, depth=4).rerank("human resources", CANDS)
    assert result.ids == ["c4", "c1", "c2", "c3"]
    [parsed] = result.parses
    assert not parsed.clean and parsed.n_unknown == 1 and parsed.n_duplicates == 1
    assert result.prompt_tokens == 50 and result.completion_tokens == 7


REMOTE = "https://llm.example.invalid/v1"


def test_missing_key_for_a_remote_server_is_a_clear_error(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    reason = f"environment variable {KEY_ENV} is not set (nor OPENAI_API_KEY)"
    with pytest.raises(ConfigError, match=re.escape(reason)):
        build_backend(_cfg(REMOTE))
    assert backend_available(_cfg(REMOTE)) == (False, reason)


def test_a_local_server_needs_no_key(server, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    url, script = server
    assert backend_available(_cfg(url))[0]
    assert build_backend(_cfg(url)).generate([MESSAGES])[0].text.startswith("Ranking:")
    assert script.requests[0]["auth"] is None


def test_the_configured_key_beats_openai_api_key(server, monkeypatch):
    url, script = server
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    build_backend(_cfg(url)).generate([MESSAGES])
    monkeypatch.setenv(KEY_ENV, "sk-configured")
    build_backend(_cfg(url)).generate([MESSAGES])
    assert [r["auth"] for r in script.requests] == ["Bearer sk-openai", "Bearer sk-configured"]


def test_openai_base_url_beats_the_config(server, monkeypatch):
    url, script = server
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    assert backend_available(_cfg(REMOTE)) == (True, f"llama-3.1-8b-instant at {url} (chat)")
    build_backend(_cfg(REMOTE)).generate([MESSAGES])
    assert len(script.requests) == 1
    assert resolve_base_url(LLMConfig.from_config(_cfg(REMOTE, base_url_env=None)).openai) == (
        REMOTE
    )
    monkeypatch.setenv("OPENAI_BASE_URL", "127.0.0.1:8000")
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL: expected an http"):
        build_backend(_cfg(REMOTE))


def test_the_base_url_flag_beats_openai_base_url(server, monkeypatch):
    from shortlister.cli.rank import _llm_config

    url, _ = server
    monkeypatch.setenv("OPENAI_BASE_URL", REMOTE)
    overrides = {"backend": "openai", "model": "m", "base_url": url, "endpoint": "completions"}
    cfg = _llm_config(None, overrides)
    assert resolve_base_url(cfg.openai) == url
    assert (cfg.openai.model, cfg.openai.endpoint) == ("m", "completions")


def text_completion(text: str) -> dict:
    return {"choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 9}}  # fmt: skip


def test_completions_endpoint_sends_the_completion_prompt(server, monkeypatch):
    url, script = server
    script.default = (200, text_completion(" c2, c4, c1, c3\n\nRanking: c1"), {}, 0.0)
    backend = build_backend({**_cfg(url, endpoint="completions"), "stop": ["\n"]})
    [gen] = backend.generate([MESSAGES])
    assert gen.text == "Ranking: c2, c4, c1, c3"  # prefix back on, cut at the stop string
    assert (gen.prompt_tokens, gen.completion_tokens) == (40, 9)
    request = script.requests[0]
    assert request["path"] == "/v1/completions" and "messages" not in request["body"]
    prompt = request["body"]["prompt"]
    assert prompt == backend.render(MESSAGES) and prompt.endswith("\n\nRanking:")
    assert MESSAGES[-1]["content"] in prompt
    assert request["body"]["stop"] == ["\n"] and request["body"]["max_tokens"] == 64


def test_completions_endpoint_rejects_a_chat_shape(server):
    url, script = server
    script.default = (200, {"choices": [{"message": {"content": "Ranking: c1"}}]}, {}, 0.0)
    script.steps = [(200, {"choices": [{"text": 5}]}, {}, 0.0)]
    backend = build_backend(_cfg(url, endpoint="completions", max_retries=1))
    with pytest.raises(LLMError, match=r"2 attempt\(s\).*choices\[0\]\.text"):
        backend.generate([MESSAGES])


def test_groq_is_the_default_api():
    cfg = LLMConfig.from_config({"backend": "openai"})
    assert cfg.openai.base_url == "https://api.groq.com/openai/v1"
    assert cfg.openai.api_key_env == "GROQ_API_KEY"
