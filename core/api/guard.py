"""The gate every request passes before any route: Host, Origin, API key, rate limit, body size.

A pure ASGI middleware, outermost, so a refused request never reaches routing or the engine. Order matters: Host
and Origin first (a DNS-rebinding or cross-site page learns nothing, not even whether its key was right), then the
key (/health and CORS preflights excepted), then the rate limit, then the body size.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from .config import ServerConfig
from .errors import ApiError, error_response_parts
from .metrics import ServerMetrics
from .rate_limit import RateLimiter, retry_after

Scope = dict[str, Any]
OPEN_PATHS = frozenset({"/health"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Headers a request may send once: two Hosts or Origins let a proxy and this guard read different ones.
SINGLE_HEADERS = ("host", "origin", "authorization", "content-length")
# The whole Host header: a bracketed IPv6 literal or a name, then an optional numeric port, then nothing.
_HOST = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+(?:%[0-9a-z._~-]+)?)\]|(?P<name>[0-9a-z._-]+))(?::[0-9]{1,5})?",
                   re.IGNORECASE)


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit:,} bytes", "body_too_large")


def host_allowed(host_header: str, allow_remote: bool) -> bool:
    """A loopback name or address; with allow_remote also any IP literal. Never another DNS name: a page that
    rebinds its own name to 127.0.0.1 still sends that name as Host. The header must be exactly host[:port]
    (`[::1].evil.com` and `localhost:80.evil.com` are not loopback)."""
    match = _HOST.fullmatch(host_header.strip())
    if match is None:
        return False
    host = (match.group("v6") or match.group("name") or "").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or allow_remote


def duplicated(raw_headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    """The first of SINGLE_HEADERS that the request sends more than once, if any."""
    names = [k.decode("latin-1").lower() for k, _ in raw_headers]
    return next((name for name in SINGLE_HEADERS if names.count(name) > 1), None)


def origin_allowed(origin: str, allowed: tuple[str, ...]) -> bool:
    origin = origin.strip().rstrip("/")
    if origin in allowed:
        return True
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and (parts.hostname or "") in LOOPBACK_NAMES


class Guard:
    def __init__(self, app: Callable[..., Any], config: ServerConfig, metrics: ServerMetrics) -> None:
        self.app = app
        self.config = config
        self.metrics = metrics
        self.limiter = RateLimiter(config.rate_limit_per_minute)
        self._key = config.api_key.encode()

    async def __call__(self, scope: Scope, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        status = {"code": 500}
        started = time.perf_counter()

        async def send_tracked(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                if origin is not None:
                    message = {**message, "headers": [*message.get("headers", []),
                                                      (b"access-control-allow-origin", origin.encode("latin-1")),
                                                      (b"vary", b"Origin")]}
            await send(message)

        async def refuse(error: ApiError, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
            code, head, body = error_response_parts(path, error)
            status["code"] = code
            await send({"type": "http.response.start", "status": code, "headers": head + list(extra)})
            await send({"type": "http.response.body", "body": body})

        self.metrics.in_flight(+1)
        try:
            twice = duplicated(scope["headers"])
            if twice is not None:
                return await refuse(ApiError(400, f"the {twice.title()} header is sent more than once", "bad_request"))
            if not host_allowed(headers.get("host", ""), self.config.allow_remote):
                return await refuse(ApiError(403, "the Host header must name this computer (localhost or a loopback "
                                                  "address)", "forbidden_host"))
            if origin is not None and not origin_allowed(origin, self.config.allowed_origins):
                return await refuse(ApiError(403, f"browser origin {origin!r} is not allowed; add it to "
                                                  "api_allowed_origins in settings.toml", "forbidden_origin"))
            if scope["method"] == "OPTIONS" and origin is not None:
                return await self._preflight(send_tracked)
            if path not in OPEN_PATHS:
                error = self._check_key(headers.get("authorization"))
                if error is not None:
                    return await refuse(error, [(b"www-authenticate", b"Bearer")])
                wait = self.limiter.take(self.config.api_key)
                if wait:
                    self.metrics.rejected("rate_limited")
                    return await refuse(ApiError(429, f"rate limit of {self.config.rate_limit_per_minute} requests "
                                                      "a minute reached; slow down", "rate_limit_exceeded",
                                                 retry_after=retry_after(wait)))
            declared = headers.get("content-length")
            if declared is not None:
                if not declared.isdigit():
                    return await refuse(ApiError(400, "the Content-Length header is not a number", "bad_request"))
                if int(declared) > self.config.max_body_bytes:
                    return await refuse(BodyTooLarge(self.config.max_body_bytes))
            await self.app(scope, self._limited(receive), send_tracked)
        finally:
            self.metrics.in_flight(-1)
            self.metrics.request(path, scope["method"], status["code"], time.perf_counter() - started)

    def _check_key(self, authorization: str | None) -> ApiError | None:
        if not authorization:
            return ApiError(401, "missing API key: send the header 'Authorization: Bearer <key>' (the key is in "
                                 "EDGEMIND_API_KEY or the data folder's api_key file)", "missing_api_key")
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("latin-1"), self._key):
            return ApiError(401, "invalid API key", "invalid_api_key")
        return None

    async def _preflight(self, send: Callable[..., Any]) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": [
            (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
            (b"access-control-allow-headers", b"authorization, content-type"),
            (b"access-control-max-age", b"600"),
        ]})
        await send({"type": "http.response.body", "body": b""})

    def _limited(self, receive: Callable[..., Any]) -> Callable[..., Any]:
        """Count body bytes as they arrive: a chunked body has no Content-Length to check up front."""
        limit = self.config.max_body_bytes
        seen = 0

        async def wrapped() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return wrapped
