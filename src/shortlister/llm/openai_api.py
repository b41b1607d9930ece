"""The OpenAI-compatible backend: any server that speaks the OpenAI API (Groq, vLLM,
`transformers serve`), with retries on rate limits, 5xx and timeouts."""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import time
from typing import Any

from shortlister.errors import ConfigError
from shortlister.llm.backends import Generation, LLMError, Messages
from shortlister.llm.config import LLMConfig, OpenAIConfig

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class OpenAIBackend:
    """POST {base_url}/chat/completions, with retries on rate limits, 5xx and timeouts."""

    def __init__(self, cfg: LLMConfig, session: Any = None) -> None:
        import requests

        self.api = cfg.openai
        self.max_tokens = self.api.max_tokens or cfg.max_new_tokens
        self.name = f"openai:{self.api.model}@{self.api.base_url}"
        self.url = self.api.base_url.rstrip("/") + "/chat/completions"
        key = api_key(self.api)
        self.session = session or requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {key}"})

    def render(self, messages: Messages) -> str:
        return json.dumps(messages, indent=2, ensure_ascii=False)

    def generate(self, batch: list[Messages]) -> list[Generation]:
        return [self._complete(messages) for messages in batch]

    def _complete(self, messages: Messages) -> Generation:
        payload = {
            "model": self.api.model,
            "messages": messages,
            "temperature": self.api.temperature,
            "max_tokens": self.max_tokens,
            **self.api.extra_body,
        }
        t0 = time.perf_counter()
        body = self._post_with_retries(payload)
        text, usage = completion_text(body, self.url)
        return Generation(
            text=text,
            latency_s=time.perf_counter() - t0,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )

    def _post_with_retries(self, payload: dict[str, Any]) -> Any:
        import requests

        attempts = self.api.max_retries + 1
        last = ""
        for attempt in range(attempts):
            wait: float | None = None
            try:
                resp = self.session.post(self.url, json=payload, timeout=self.api.timeout_s)
            except (requests.Timeout, requests.ConnectionError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code == 200:
                    try:
                        body = resp.json()
                        completion_text(body, self.url)
                        return body
                    except (ValueError, LLMError) as exc:
                        last = f"unexpected response: {exc}"
                elif resp.status_code in RETRY_STATUS:
                    last = f"HTTP {resp.status_code}: {resp.text[:200]}"
                    wait = retry_after(resp.headers.get("Retry-After"))
                else:
                    raise LLMError(self._status_message(resp))
            if attempt + 1 < attempts:
                delay = self._delay(attempt, wait)
                logger.warning(
                    "%s: %s; retry %d/%d in %.1fs", self.url, last, attempt + 1, attempts - 1, delay
                )
                time.sleep(delay)
        raise LLMError(f"{self.url}: no answer after {attempts} attempt(s); last error: {last}")

    def _delay(self, attempt: int, retry_after_s: float | None) -> float:
        """Retry-After when the server sent one, else exponential backoff with jitter."""
        if retry_after_s is not None:
            return min(retry_after_s, self.api.max_backoff_s)
        base = self.api.backoff_s * 2**attempt
        return min(base + random.uniform(0, self.api.backoff_s), self.api.max_backoff_s)

    def _status_message(self, resp: Any) -> str:
        hint = ""
        if resp.status_code in (401, 403):
            hint = f" (check the key in ${self.api.api_key_env})"
        elif resp.status_code == 404:
            hint = f" (check llm.openai.base_url and model {self.api.model!r})"
        return f"{self.url}: HTTP {resp.status_code}{hint}: {resp.text[:300]}"


def api_key(api: OpenAIConfig) -> str:
    key = os.environ.get(api.api_key_env, "").strip()
    if not key:
        raise ConfigError(
            f"llm.openai.api_key_env: environment variable {api.api_key_env} is not set; "
            f"export {api.api_key_env}=<your key for {api.base_url}>"
        )
    return key


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def completion_text(body: Any, url: str) -> tuple[str, dict[str, int]]:
    """choices[0].message.content and usage of a chat completion; LLMError on another shape."""
    try:
        message = body["choices"][0]["message"]
        content = message.get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise LLMError(
            f"{url}: expected JSON with choices[0].message.content, got {str(body)[:200]!r}"
        ) from None
    if content is not None and not isinstance(content, str):
        raise LLMError(f"{url}: choices[0].message.content is {type(content).__name__}, not text")
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    return content or "", {k: v for k, v in usage.items() if isinstance(v, int)}
