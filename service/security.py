"""Keys, tokens and limits: who may write, whose likes a call may touch, how much one may ask."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time

from fastapi import HTTPException, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.deps import state_of


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def is_admin(request: Request) -> bool:
    key = state_of(request).settings.admin_key
    given = bearer(request)
    return bool(key and given and hmac.compare_digest(given.encode(), key.encode()))


def require_admin(request: Request) -> None:
    """Write calls need the admin key when one is configured (without one, the server listens on
    loopback only, so only local users reach them)."""
    if state_of(request).settings.admin_key and not is_admin(request):
        raise HTTPException(status_code=401, detail="this call needs the admin key: Authorization: Bearer KEY",
                            headers={"WWW-Authenticate": "Bearer"})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "pl_" + secrets.token_urlsafe(32)


def require_user(request: Request, user: str) -> None:
    """A user with a token (or every user, with require_user_tokens) is reached only with that
    token or the admin key: one user cannot read or change another's likes."""
    stored = state_of(request).users.token_hash(user)
    if stored is None and not state_of(request).settings.require_user_tokens:
        return
    given = bearer(request)
    if is_admin(request) or (stored and given and hmac.compare_digest(token_hash(given), stored)):
        return
    detail = f"user {user} needs their token: Authorization: Bearer TOKEN"
    if stored is None:
        detail = f"user {user} has no token yet; the admin issues one with POST /users/{user}/token"
    raise HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


class RateLimiter:
    """A token bucket per key: `rate` requests a second, `burst` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last time)
        self._lock = threading.Lock()

    def wait_needed(self, key: str) -> float:
        """0 when the request may go ahead (and takes a token), else seconds until it may."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                if len(self._buckets) > 100_000:  # forget idle keys rather than grow without bound
                    self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


class Limits:
    """ASGI middleware: request bodies over `max_body` get 413 (by Content-Length, or while they
    stream); with a rate, each client address gets 429 with Retry-After beyond it, and so does the
    admin key, in a bucket of its own."""

    EXEMPT = ("/health", "/ready", "/live", "/metrics")

    def __init__(self, app: ASGIApp, max_body: int, limiter: RateLimiter | None, admin_key: str | None = None) -> None:
        self.app, self.max_body, self.limiter = app, max_body, limiter
        self.admin_key = admin_key.encode() if admin_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if self.limiter is not None and scope.get("path") not in self.EXEMPT:
            wait = self.limiter.wait_needed(self._key(scope, headers))
            if wait > 0:
                retry = str(max(1, math.ceil(wait)))
                detail = f"rate limit reached: retry in {retry} s"
                answer = JSONResponse({"detail": detail}, 429, {"Retry-After": retry})
                await answer(scope, receive, send)
                return
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await self._too_large(scope, receive, send)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge(413, f"request body over the limit of {self.max_body} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = JSONResponse({"detail": f"request body over the limit of {self.max_body} bytes"}, 413)
        await answer(scope, receive, send)

    def _key(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        """The admin key's own bucket, else the client address's: any other bearer value (a user
        token, a guess) shares its sender's bucket, so inventing values buys no requests. The
        address is the connecting one unless uvicorn took it from a trusted proxy's X-Forwarded-For."""
        authorization = headers.get(b"authorization", b"")
        if self.admin_key and authorization[:7].lower() == b"bearer ":
            if hmac.compare_digest(authorization[7:].strip(), self.admin_key):
                return "admin"
        return "addr:" + str((scope.get("client") or ("-",))[0])


class _BodyTooLarge(StarletteHTTPException):
    """Raised while a body streams in: an HTTP error, so the app's handlers answer 413."""


class HostCheck:
    """ASGI middleware: 400 for a request whose Host header is not an allowed name (`*` allows
    any, `*.example.org` a domain). The probes stay open, so an orchestrator may call them by IP."""

    EXEMPT = ("/health", "/ready", "/live")

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.any = "*" in allowed
        self.names = {_host_name(name) for name in allowed if not name.startswith("*.")}
        self.domains = tuple(name[1:].lower() for name in allowed if name.startswith("*."))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.any or scope["type"] not in ("http", "websocket") or scope.get("path") in self.EXEMPT:
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        if self.allows(host):
            await self.app(scope, receive, send)
            return
        shown = ascii(host[:100]) if host else "(none)"
        detail = f"host {shown} is not served here: PAPERLENS_ALLOWED_HOSTS lists the names this server answers to"
        await JSONResponse({"detail": detail}, 400)(scope, receive, send)

    def allows(self, host_header: str) -> bool:
        name = _host_name(host_header)
        return bool(name) and (name in self.names or name.endswith(self.domains))


def _host_name(host: str) -> str:
    """The name in a Host header or an allowed-hosts entry, without port or IPv6 brackets, lowercase."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else ""
    return host.partition(":")[0] if host.count(":") == 1 else host
