"""Pure ASGI middleware: security headers, HEAD, allowed hosts, bearer auth, body limit.

Pure ASGI (not BaseHTTPMiddleware) so a rejected request is answered before the
application reads a byte of its body.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from starlette.datastructures import MutableHeaders
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
    chunked upload without Content-Length is cut off at `max_bytes` + one chunk. Paths in
    `streamed` (path -> (limit, the setting that sets it): file uploads) have their own
    limit and are passed on as they arrive, counted, never held here.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        drain_bytes: int = 1 << 20,
        streamed: Mapping[str, tuple[int, str]] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streamed = dict(streamed or {})
        # Up to this much of a refused body is read and dropped before answering: a client
        # still sending when the server closes gets a connection reset, not the 413.
        self.drain_bytes = drain_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit, setting = self.streamed.get(scope["path"], (self.max_bytes, ""))
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await error_response(400, "bad_content_length", "Content-Length is not a number")(
                    scope, receive, send
                )
                return
            if declared > limit:
                if declared <= self.drain_bytes:
                    await _drain(receive, self.drain_bytes)
                await self._too_large(scope, receive, send, f"is {declared} bytes", limit, setting)
                return
        if setting:
            await self._counted(scope, receive, send, limit, setting)
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
                await self._too_large(scope, receive, send, f"exceeds {limit} bytes", limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _counted(
        self, scope: Scope, receive: Receive, send: Send, limit: int, setting: str
    ) -> None:
        """The body streamed to the app; past `limit` the app sees a disconnect, and its
        answer to that (a 400 for a cut-off form) is replaced by the 413."""
        size, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal size, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    over = True
                    if message.get("more_body", False):
                        await _drain(receive, self.drain_bytes)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if not over:
                started = started or message["type"] == "http.response.start"
                await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._too_large(scope, receive, send, f"exceeds {limit} bytes", limit, setting)

    async def _too_large(
        self, scope: Scope, receive: Receive, send: Send, what: str, limit: int, setting: str = ""
    ) -> None:
        detail = f"request body {what}; at most {limit} bytes are accepted"
        if setting:
            detail += f" on {scope['path']} ({setting}, {limit / 2**20:.3g} MiB)"
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
        self.digest = hashlib.sha256(self.token).digest() if self.token else b""
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
        # Digests of equal length, compared with compare_digest: the time taken tells
        # neither how much of the token matched nor how long the token is.
        given_digest = hashlib.sha256(given.strip()).digest()
        return scheme.lower() == b"bearer" and hmac.compare_digest(given_digest, self.digest)


# No inline script or style anywhere: the page and /docs load theirs from /static and
# /docs-static. data: images: the page's empty favicon and Swagger UI's CSS icons.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeadersMiddleware:
    """Adds `headers` to every HTTP response; a header the response already has is kept."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str] = SECURITY_HEADERS) -> None:
        self.app = app
        self.headers = dict(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeadMiddleware:
    """HEAD is answered as GET would be, status and headers alike, without the body.

    FastAPI's routes answer GET only (405 to HEAD); serving HEAD here covers every route,
    the mounted static files and the schema alike.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            elif message["type"] == "http.response.pathsend":
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


def host_name(host: str) -> str:
    """A Host header's name, lower-cased, without port or brackets: '[::1]:80' -> '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        name = host[1:end] if end > 0 else host
    elif host.count(":") == 1:
        name = host.partition(":")[0]
    else:
        name = host  # no port, or a bare IPv6 address
    return name[:-1] if name.endswith(".") else name


class AllowedHostsMiddleware:
    """400 unless the request's Host header (port aside) is one of `allowed_hosts`.

    A page on another site can point its own domain name at 127.0.0.1 (DNS rebinding)
    and then talk to this server as a same-origin page would; its requests still carry
    that domain in Host, so checking Host closes the hole. An entry "*" allows any
    host; "*.example.org" allows the subdomains of example.org.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Collection[str]) -> None:
        self.app = app
        names = [host_name(h) for h in allowed_hosts]
        self.any = "*" in names
        self.names = {n for n in names if not n.startswith("*")}
        self.suffixes = tuple(n[1:] for n in names if n.startswith("*."))
        self.shown = ", ".join(allowed_hosts)

    def allowed(self, name: str) -> bool:
        return self.any or name in self.names or name.endswith(self.suffixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = dict(scope["headers"]).get(b"host")
        host = raw.decode("latin-1") if raw is not None else None
        if host is not None and self.allowed(host_name(host)):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        what = "the request has no Host header" if host is None else f"Host {host!r} is not served"
        detail = f"{what}; this server answers to: {self.shown} (serve.allowed_hosts)"
        await error_response(400, "invalid_host", detail)(scope, receive, send)
