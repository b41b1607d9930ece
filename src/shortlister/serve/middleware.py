"""Pure ASGI middleware: bearer-token auth and a request body size limit.

Pure ASGI (not BaseHTTPMiddleware) so a rejected request is answered before the
application reads a byte of its body.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BODY_METHODS = {"POST", "PUT", "PATCH"}


def error_response(
    status: int, error: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


class BodyLimitMiddleware:
    """413 for a body over `max_bytes`: by its Content-Length, or counted as it streams.

    The body is read here (it is small by construction) and replayed to the app, so a
    chunked upload without Content-Length is cut off at `max_bytes` + one chunk.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, drain_bytes: int = 1 << 20) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Up to this much of a refused body is read and dropped before answering: a client
        # still sending when the server closes gets a connection reset, not the 413.
        self.drain_bytes = drain_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await error_response(400, "bad_content_length", "Content-Length is not a number")(
                    scope, receive, send
                )
                return
            if declared > self.max_bytes:
                if declared <= self.drain_bytes:
                    await _drain(receive, self.drain_bytes)
                await self._too_large(scope, receive, send, f"is {declared} bytes")
                return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away; nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                if message.get("more_body", False):
                    await _drain(receive, self.drain_bytes - size)
                await self._too_large(scope, receive, send, f"exceeds {self.max_bytes} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, what: str) -> None:
        detail = f"request body {what}; at most {self.max_bytes} bytes are accepted"
        await error_response(413, "body_too_large", detail, {"Connection": "close"})(
            scope, receive, send
        )


async def _drain(receive: Receive, budget: int) -> None:
    """Read and drop the rest of a body, at most `budget` bytes."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later calls wait for the disconnect, as usual

    return replay


class BearerAuthMiddleware:
    """401 unless `Authorization: Bearer <token>`, for every path but the public ones."""

    def __init__(
        self,
        app: ASGIApp,
        token: str | None,
        public_paths: Collection[str] = (),
        public_prefixes: Collection[str] = (),
    ) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.public_paths = set(public_paths)
        self.public_prefixes = tuple(public_prefixes)

    def _public(self, path: str) -> bool:
        return path in self.public_paths or path.startswith(self.public_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] != "http" or self._public(scope["path"]):
            await self.app(scope, receive, send)
            return
        if not self._authorised(dict(scope["headers"])):
            detail = "missing or wrong bearer token; send 'Authorization: Bearer <token>'"
            await error_response(401, "unauthorized", detail, {"WWW-Authenticate": "Bearer"})(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)

    def _authorised(self, headers: dict[bytes, Any]) -> bool:
        scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
        # compare_digest: the time taken does not tell how much of the token matched.
        return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.token)
