"""The OpenAI-compatible backend: any server that speaks the OpenAI API (Groq, vLLM,
`transformers serve`), with retries on rate limits, 5xx and timeouts.

Two endpoints (`llm.openai.endpoint`): `chat` posts the messages to /chat/completions
(instruct models: the server applies the chat template); `completions` posts the
completion prompt, which ends in the answer prefix, to /completions (base models without
a chat template, such as gemma3-270m) and puts the prefix back on the continuation.

Where the server and the key come from, first found wins:

    URL: --llm-base-url, then $OPENAI_BASE_URL (llm.openai.base_url_env), then llm.openai.base_url
    key: $GROQ_API_KEY (llm.openai.api_key_env), then $OPENAI_API_KEY; none for 127.0.0.1/localhost
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import time
from typing import Any
from urllib.parse import urlsplit

from shortlister.core.errors import ConfigError
from shortlister.llm.backends import Generation, LLMError, Messages, cut_at_stop
from shortlister.llm.config import LLMConfig, OpenAIConfig
from shortlister.llm.prompts import PromptBuilder, PromptTemplate

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
FALLBACK_KEY_ENV = "OPENAI_API_KEY"  # the OpenAI clients' own variable
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class OpenAIBackend:
    """POST {base_url}/chat/completions (or /completions), with retries on rate limits, 5xx
    and timeouts."""

    def __init__(self, cfg: LLMConfig, session: Any = None) -> None:
        import requests

        self.api = cfg.openai
        self.max_tokens = self.api.max_tokens or cfg.max_new_tokens
        self.stop = list(cfg.stop)
        base = resolve_base_url(self.api)
        self.name = f"openai:{self.api.model}@{base}"
        self.chat = self.api.endpoint == "chat"
        self.url = base.rstrip("/") + ("/chat/completions" if self.chat else "/completions")
        # Completions: the same completion prompt a local base model gets (prompts.py).
        answer_prefix = PromptTemplate.from_config(cfg.prompt).answer_prefix
        self.builder = None if self.chat else PromptBuilder(answer_prefix, "completion")
        key = resolve_api_key(self.api, base)
        self.session = session or requests.Session()
        if key is not None:
            self.session.headers.update({"Authorization": f"Bearer {key}"})

    def render(self, messages: Messages) -> str:
        if self.builder is not None:
            return self.builder.prompt(messages)
        return json.dumps(messages, indent=2, ensure_ascii=False)

    def generate(self, batch: list[Messages]) -> list[Generation]:
        return [self._complete(messages) for messages in batch]

    def _payload(self, messages: Messages) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.api.model}
        if self.builder is None:
            payload["messages"] = messages
        else:
            payload.update(prompt=self.builder.prompt(messages), stop=self.stop)
        payload.update(temperature=self.api.temperature, max_tokens=self.max_tokens)
        return {**payload, **self.api.extra_body}

    def _complete(self, messages: Messages) -> Generation:
        t0 = time.perf_counter()
        body = self._post_with_retries(self._payload(messages))
        text, usage = self._text(body)
        if self.builder is not None:
            # Servers differ on whether the stop string stays on the text.
            text = self.builder.answer(cut_at_stop(text, self.stop))
        return Generation(
            text=text,
            latency_s=time.perf_counter() - t0,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )

    def _text(self, body: Any) -> tuple[str, dict[str, int]]:
        return completion_text(body, self.url, self.chat)

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
                        self._text(body)
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
            hint = f" (check the key in ${self.api.api_key_env} or ${FALLBACK_KEY_ENV})"
        elif resp.status_code == 404:
            hint = (
                f" (check the base URL, llm.openai.endpoint {self.api.endpoint!r} and model "
                f"{self.api.model!r})"
            )
        return f"{self.url}: HTTP {resp.status_code}{hint}: {resp.text[:300]}"


def resolve_base_url(api: OpenAIConfig) -> str:
    """$<base_url_env> (OPENAI_BASE_URL) when set, else llm.openai.base_url.

    --llm-base-url sets base_url and clears base_url_env, so the flag beats the variable.
    """
    value = os.environ.get(api.base_url_env, "").strip() if api.base_url_env else ""
    if not value:
        return api.base_url
    if not value.startswith(("http://", "https://")):
        raise ConfigError(
            f"environment variable {api.base_url_env}: expected an http(s) URL, got {value!r}"
        )
    return value


def is_local(url: str) -> bool:
    """Whether `url` is a server on this machine (127.0.0.1, localhost, ::1)."""
    return (urlsplit(url).hostname or "").lower() in LOCAL_HOSTS


def find_api_key(api: OpenAIConfig) -> str | None:
    """$<api_key_env>, else $OPENAI_API_KEY, else None."""
    for env in dict.fromkeys((api.api_key_env, FALLBACK_KEY_ENV)):
        key = os.environ.get(env, "").strip()
        if key:
            return key
    return None


def missing_key(api: OpenAIConfig) -> str:
    return f"environment variable {api.api_key_env} is not set (nor {FALLBACK_KEY_ENV})"


def resolve_api_key(api: OpenAIConfig, base_url: str) -> str | None:
    """The key to send; None (no Authorization header) for a local server without one."""
    key = find_api_key(api)
    if key is None and not is_local(base_url):
        raise ConfigError(
            f"llm.openai.api_key_env: {missing_key(api)}; "
            f"export {api.api_key_env}=<your key for {base_url}>"
        )
    return key


def openai_available(api: OpenAIConfig) -> tuple[bool, str]:
    """(True, what will be called) or (False, why not), by the backend's precedence."""
    try:
        base = resolve_base_url(api)
    except ConfigError as exc:
        return False, str(exc)
    if find_api_key(api) is None and not is_local(base):
        return False, missing_key(api)
    return True, f"{api.model} at {base} ({api.endpoint})"


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


def completion_text(body: Any, url: str, chat: bool = True) -> tuple[str, dict[str, int]]:
    """choices[0].message.content (chat) or choices[0].text (completions), and usage;
    LLMError on another shape."""
    field = "message.content" if chat else "text"
    try:
        choice = body["choices"][0]
        # A chat message may carry no content (tool calls); a completion always has text.
        value = choice["message"].get("content") if chat else choice["text"]
    except (KeyError, IndexError, TypeError, AttributeError):
        raise LLMError(
            f"{url}: expected JSON with choices[0].{field}, got {str(body)[:200]!r}"
        ) from None
    if value is not None and not isinstance(value, str):
        raise LLMError(f"{url}: choices[0].{field} is {type(value).__name__}, not text")
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    return value or "", {k: v for k, v in usage.items() if isinstance(v, int)}
