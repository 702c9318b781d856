"""Fetch one web page as text. Off unless the user turns it on in settings, and then only for granted hosts.

A granted host reaches only public addresses, unless the grant names the address itself (`net:127.0.0.1:8080`) or
`localhost`: the host is resolved once, every address checked, and the connection pinned to them (no rebinding).
Redirects are followed only within the granted host and port, each hop checked again: a page cannot bounce the
fetch to a host nobody granted.
What comes back is untrusted text (the engine marks it so): it is data, never instructions.
"""

from __future__ import annotations

import html.parser
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from edgemind.core.errors import NetworkRefused
from edgemind.core.tools.addresses import IPAddress, check_addresses, literal_address, parse_resolved
from edgemind.core.tools.registry import PluginContext, Tool, ToolError
from edgemind.core.tools.scopes import Scope, ScopeError, host_of, need_host
from edgemind.plugins.builtin.pinned_http import NetAccess, PinnedBackend, PinnedTransport, pin_key
from edgemind.plugins.sdk import tool

MAX_BYTES = 2_000_000
TIMEOUT_S = 10.0  # the whole fetch, redirects and body included
READ_TIMEOUT_S = 5.0  # one read; the deadline is checked between reads, so a fetch ends by TIMEOUT_S + this
MAX_REDIRECTS = 3


class _TextExtractor(html.parser.HTMLParser):
    SKIP = {"script", "style", "noscript", "template", "svg", "head"}
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "pre"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "body":  # HTML lets a page omit </head>: without this its whole body would be skipped
            self._skipping = 0
        elif tag in self.SKIP:
            self._skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    parser.feed(markup)
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _pin(host: str, net: NetAccess) -> tuple[IPAddress, ...]:
    """Resolve `host` once and check every address it gives (an address written as the host is not resolved)."""
    literal = literal_address(host)
    if literal is not None:
        return check_addresses(host, (literal,))
    try:
        answers = net.resolve(host)
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ToolError(f"web_fetch: cannot resolve {host} ({reason})") from None
    return check_addresses(host, parse_resolved(host, answers))


def _port_of(url: str) -> int:
    """The port a checked URL connects to (need_host has already refused a port that is not a number)."""
    parts = urlsplit(url.strip())
    return parts.port or (443 if parts.scheme == "https" else 80)


def _next_hop(url: str, location: str, first: Scope) -> str:
    """The redirect's target when it stays on the granted host and port; ToolError otherwise."""
    target = urljoin(url, location)
    try:
        scope = need_host(target)
    except ScopeError as exc:
        raise ToolError(f"web_fetch: {url} redirects to {target[:80]!r}; not followed: {exc}") from None
    if scope != first:
        raise ToolError(f"web_fetch: {url} redirects to another host ({scope.target}); "
                        "not followed: only the granted host and port are")
    return target


def fetch_text(url: str, max_chars: int = 20_000, deadline_s: float = TIMEOUT_S, net: NetAccess | None = None) -> str:
    """The page's readable text. A server that sends its body slowly (a byte at a time keeps every single read
    within its timeout) gets `deadline_s` for the whole fetch; what arrived by then comes back, marked.

    Each host is resolved once per fetch and its addresses checked before any connection; every connection goes
    to those addresses, so a second DNS answer (rebinding) is never used."""
    net = net or NetAccess()
    first = need_host(url)
    backend = PinnedBackend(net.connect)
    deadline = time.monotonic() + deadline_s
    timeout = httpx.Timeout(min(deadline_s, TIMEOUT_S), read=min(deadline_s, READ_TIMEOUT_S))
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                      transport=PinnedTransport(backend, net.ssl_context),
                      headers={"User-Agent": "EdgeMind/0.1 (local assistant)"}) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            host = host_of(url)
            key = (pin_key(host), _port_of(url))
            if key not in backend.pins:
                try:
                    backend.pins[key] = _pin(host, net)
                except NetworkRefused as exc:
                    raise NetworkRefused(f"web_fetch: {exc}") from None
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        url = _next_hop(url, response.headers.get("location", ""), first)
                        continue
                    return _read_page(url, response, deadline, deadline_s, max_chars)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise ToolError(f"web_fetch: cannot fetch {url[:200]}: {exc}") from None
    raise ToolError(f"web_fetch: more than {MAX_REDIRECTS} redirects")


def _read_page(url: str, response: httpx.Response, deadline: float, deadline_s: float, max_chars: int) -> str:
    if response.status_code >= 400:
        raise ToolError(f"web_fetch: {url} answered HTTP {response.status_code}")
    body, late = bytearray(), False
    for chunk in response.iter_bytes():
        body.extend(chunk)
        if len(body) > MAX_BYTES:
            break
        if time.monotonic() > deadline:
            late = True
            break
    kind = response.headers.get("content-type", "")
    text = body[:MAX_BYTES].decode(response.encoding or "utf-8", errors="replace")
    looks_html = text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))
    text = html_to_text(text) if "html" in kind or looks_html else text
    limit = max(100, min(max_chars, 100_000))
    if late:
        return text[:limit] + f"\n[... stopped: the page was still arriving after {deadline_s:g} s]"
    return text[:limit] + ("\n[... truncated]" if len(text) > limit else "")


def web_fetch_tool(enabled: bool, net: NetAccess | None = None) -> Tool:
    """The tool, reaching the network through `net` (the OS resolver and sockets unless a test gives others)."""
    access = net or NetAccess()

    @tool(plugin="web_fetch", scopes=["net:{url}"], timeout_s=TIMEOUT_S + 5, rate_limit_per_min=20)
    def web_fetch(url: str, max_chars: int = 20_000) -> str:
        """Fetch a web page (http/https) and return its readable text."""
        if not enabled:
            raise ToolError("web_fetch is off; turn it on with web_fetch_enabled = true in settings.toml")
        return fetch_text(url, max_chars, net=access)

    return web_fetch


def register(context: PluginContext | None = None) -> list[Tool]:
    enabled = bool(getattr(getattr(context, "settings", None), "web_fetch_enabled", False))
    return [web_fetch_tool(enabled)]
