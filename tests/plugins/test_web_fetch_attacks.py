"""Attacks on web_fetch's network promise: a granted host reaches only where its grant says.

Offline: the OS resolver is replaced by an injected `resolve(host)` (a fake of DNS, not of our code), and the
socket-level connector routes a "public" address to a real HTTP listener on 127.0.0.1 while recording every address it
was asked to connect to. A second listener on 127.0.0.1 stands for what an attacker wants to reach (a local service,
the cloud metadata endpoint): no test may ever make it see a request.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from edgemind.core.settings import Settings, load_settings
from edgemind.core.storage.db import open_database
from edgemind.core.tools.registry import ToolRegistry
from edgemind.core.tools.runner import ToolOutcome
from edgemind.core.tools.session import open_tool_runner
from edgemind.plugins.builtin.pinned_http import NetAccess
from edgemind.plugins.builtin.web_fetch import web_fetch_tool

PUBLIC = "93.184.215.14"  # a globally routable address: the connector routes it to the "public" listener


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.hits.append((self.path, self.headers.get("Host", "")))
        location = self.server.redirects.get(self.path)
        if location is not None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.server.body
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    def __init__(self, address: str, body: bytes) -> None:
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        super().__init__((address, 0), _Handler)
        self.hits: list[tuple[str, str]] = []
        self.redirects: dict[str, str] = {}
        self.body = body

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@pytest.fixture
def listen(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., _Server]]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    servers: list[_Server] = []

    def start(body: bytes = b"secret page", address: str = "127.0.0.1") -> _Server:
        server = _Server(address, body)
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@dataclass
class Dns:
    """The OS resolver as an attacker who controls a zone sees it: one answer per lookup, the last one repeated."""

    answers: list[list[str]]
    asked: list[str] = field(default_factory=list)

    def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        return self.answers[min(len(self.asked), len(self.answers)) - 1]


@dataclass
class Routes:
    """The network: records each (address, port) a connection was asked for; `to` sends some to a local port."""

    to: dict[tuple[str, int], int] = field(default_factory=dict)
    default: int | None = None  # when set, every other address reaches this local port too
    asked: list[tuple[str, int]] = field(default_factory=list)

    def __call__(self, address: str, port: int, timeout: float | None) -> socket.socket:
        self.asked.append((address, port))
        local = self.to.get((address, port), self.default)
        if local is None:
            return socket.create_connection((address, port), timeout)
        return socket.create_connection(("127.0.0.1", local), timeout)


@pytest.fixture
def enabled(env: dict[str, str]) -> Settings:
    return load_settings(env={**env, "EDGEMIND_WEB_FETCH": "1"})


def fetch(settings: Settings, grants: list[str], url: str, net: NetAccess | None = None) -> ToolOutcome:
    """One web_fetch call through the real runner and broker, with the grants given on the command line."""
    tool = web_fetch_tool(enabled=True, net=net or NetAccess())
    runner = open_tool_runner(settings, sessionmaker(open_database(settings.db_path)), grants=grants,
                              registry=ToolRegistry([tool]))
    return runner.call("web_fetch", {"url": url})


def one_line_refusal(outcome: ToolOutcome) -> str:
    assert not outcome.ok, outcome.content
    assert "\n" not in outcome.content and "Traceback" not in outcome.content
    return outcome.content


# ---- (a) a granted name that resolves to a local or special address is refused before any connection -----------
SPECIAL = [
    ("127.0.0.1", "loopback"), ("127.45.6.7", "loopback"), ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"), ("64:ff9b::7f00:1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.9.9", "private"), ("192.168.1.10", "private"), ("fd12:3456::1", "private"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("169.254.169.254", "cloud metadata"), ("fd00:ec2::254", "cloud metadata"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("169.254.10.10", "link-local"), ("fe80::1", "link-local"),
    ("224.0.0.251", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("240.1.2.3", "reserved"), ("255.255.255.255", "reserved"), ("2001:db8::1", "reserved"),
]


@pytest.mark.parametrize(("address", "label"), [pytest.param(a, label, id=a, marks=pytest.mark.attack("network"))
                                                for a, label in SPECIAL])
def test_a_granted_name_resolving_to_a_special_address_is_refused_before_any_connection(
        enabled: Settings, listen: Callable[..., _Server], address: str, label: str) -> None:
    secret = listen()
    dns, routes = Dns([[address]]), Routes(default=secret.port)  # any connection at all would reach the listener
    outcome = fetch(enabled, ["net:example.test"], f"http://example.test:{secret.port}/", NetAccess(dns, routes))
    message = one_line_refusal(outcome)
    assert message.startswith(f"error: web_fetch: example.test resolves to {address} (")
    assert label in message and message.endswith("which the grant does not name"), message
    assert routes.asked == [] and secret.hits == []


@pytest.mark.attack("network")
def test_every_resolved_address_is_checked_not_only_the_first(enabled: Settings,
                                                               listen: Callable[..., _Server]) -> None:
    secret = listen()
    dns, routes = Dns([[PUBLIC, "127.0.0.1"]]), Routes(default=secret.port)
    outcome = fetch(enabled, ["net:example.test"], f"http://example.test:{secret.port}/", NetAccess(dns, routes))
    assert one_line_refusal(outcome) == ("error: web_fetch: example.test resolves to 127.0.0.1 (loopback), "
                                         "which the grant does not name")
    assert routes.asked == [] and secret.hits == []


# ---- (b) DNS rebinding: the fetch connects to the address it checked, never to a later answer --------------------
@pytest.mark.attack("network")
def test_dns_rebinding_between_hops_cannot_reach_loopback(enabled: Settings, listen: Callable[..., _Server]) -> None:
    public, secret = listen(b"public page"), listen()
    public.redirects["/start"] = "/next"  # a second hop to the same host: a re-resolving client would ask DNS again
    dns = Dns([[PUBLIC], ["127.0.0.1"]])
    routes = Routes(to={(PUBLIC, secret.port): public.port})  # anything else goes where it says: 127.0.0.1 = secret
    outcome = fetch(enabled, ["net:example.test"], f"http://example.test:{secret.port}/start", NetAccess(dns, routes))
    assert outcome.ok and outcome.content == "public page", outcome.content
    assert dns.asked == ["example.test"]  # resolved once for the whole fetch
    assert routes.asked and set(routes.asked) == {(PUBLIC, secret.port)}  # only ever the checked address
    assert [path for path, _ in public.hits] == ["/start", "/next"]
    assert {host for _, host in public.hits} == {f"example.test:{secret.port}"}  # the Host header keeps the name
    assert secret.hits == []


@pytest.mark.attack("network")
def test_dns_rebinding_on_the_next_fetch_is_checked_again(enabled: Settings, listen: Callable[..., _Server]) -> None:
    public, secret = listen(b"public page"), listen()
    dns = Dns([[PUBLIC], ["127.0.0.1"]])
    routes = Routes(to={(PUBLIC, secret.port): public.port})
    net = NetAccess(dns, routes)
    url = f"http://example.test:{secret.port}/"
    assert fetch(enabled, ["net:example.test"], url, net).ok
    assert one_line_refusal(fetch(enabled, ["net:example.test"], url, net)).endswith(
        "example.test resolves to 127.0.0.1 (loopback), which the grant does not name")
    assert set(routes.asked) == {(PUBLIC, secret.port)} and secret.hits == []


# ---- (c) redirects: each hop is checked (scheme, host and port within the grant, address allowed) ---------------
REDIRECTS = {
    "loopback": "http://127.0.0.1:{secret}/",
    "loopback-ipv6": "http://[::1]:{secret}/",
    "mapped-loopback": "http://[::ffff:127.0.0.1]:{secret}/",
    "decimal-loopback": "http://2130706433:{secret}/",
    "localhost": "http://localhost:{secret}/",
    "metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "private": "http://192.168.1.1/admin",
    "ungranted-host": "http://other.test:{port}/",
    "granted-host-other-port": "http://example.test:{secret}/",
    "credentials-to-loopback": "http://example.test@127.0.0.1:{secret}/",
    "file": "file:///etc/passwd",
    "gopher": "gopher://example.test:{port}/_GET%20/",
}


@pytest.mark.parametrize("target", [pytest.param(t, id=name, marks=pytest.mark.attack("network"))
                                    for name, t in REDIRECTS.items()])
def test_a_redirect_off_the_grant_is_refused(enabled: Settings, listen: Callable[..., _Server], target: str) -> None:
    public, secret = listen(b"public page"), listen()
    port = public.port
    public.redirects["/start"] = target.format(secret=secret.port, port=port)
    dns = Dns([[PUBLIC]])
    # the granted port reaches the public listener; every other address or port would reach the secret one
    routes = Routes(to={(PUBLIC, port): public.port}, default=secret.port)
    outcome = fetch(enabled, [f"net:example.test:{port}"], f"http://example.test:{port}/start",
                    NetAccess(dns, routes))
    message = one_line_refusal(outcome)
    assert "not followed" in message or "only http and https" in message or "credentials" in message, message
    assert set(routes.asked) == {(PUBLIC, port)} and secret.hits == []


# ---- (d) other spellings of loopback, under a grant that names the spelling and not the address ----------------
SPELLINGS = ["0x7f000001", "2130706433", "017700000001", "127.1", "127.0.1", "0177.0.0.1", "0x7f.0.0.1",
             "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[0:0:0:0:0:ffff:127.0.0.1]"]


@pytest.mark.parametrize("host", [pytest.param(h, id=h, marks=pytest.mark.attack("network")) for h in SPELLINGS])
def test_other_spellings_of_loopback_are_refused(enabled: Settings, listen: Callable[..., _Server],
                                                 host: str) -> None:
    secret = listen()
    outcome = fetch(enabled, [f"net:{host.strip('[]')}"], f"http://{host}:{secret.port}/")
    message = one_line_refusal(outcome)
    assert "(loopback" in message and "which the grant does not name" in message, message
    assert secret.hits == []


@pytest.mark.parametrize("grant", [pytest.param(g, id=g, marks=pytest.mark.attack("network"))
                                   for g in ("net:*.0.1", "net:*.0.0.1")])
def test_a_wildcard_grant_never_covers_an_address(enabled: Settings, listen: Callable[..., _Server],
                                                  grant: str) -> None:
    secret = listen()
    outcome = fetch(enabled, [grant], f"http://127.0.0.1:{secret.port}/")
    assert outcome.decision.startswith("denied"), outcome.content
    assert secret.hits == []


# ---- what a grant that names the address explicitly still allows --------------------------------------------------
def test_a_grant_naming_the_loopback_address_and_port_reaches_that_port_only(
        enabled: Settings, listen: Callable[..., _Server]) -> None:
    granted, other = listen(b"granted service"), listen()
    grants = [f"net:127.0.0.1:{granted.port}"]
    outcome = fetch(enabled, grants, f"http://127.0.0.1:{granted.port}/")
    assert outcome.ok and outcome.content == "granted service", outcome.content
    assert fetch(enabled, grants, f"http://127.0.0.1:{other.port}/").decision.startswith("denied")
    assert other.hits == []


def test_a_localhost_grant_reaches_loopback(enabled: Settings, listen: Callable[..., _Server]) -> None:
    local = listen(b"local service")
    dns = Dns([["127.0.0.1"]])
    outcome = fetch(enabled, ["net:localhost"], f"http://localhost:{local.port}/", NetAccess(dns, Routes()))
    assert outcome.ok and outcome.content == "local service", outcome.content
    assert local.hits == [("/", f"localhost:{local.port}")]


def test_a_localhost_grant_does_not_reach_a_private_address(enabled: Settings, listen: Callable[..., _Server]) -> None:
    secret = listen()
    routes = Routes(default=secret.port)
    outcome = fetch(enabled, ["net:localhost"], f"http://localhost:{secret.port}/", NetAccess(Dns([["10.0.0.7"]]),
                                                                                               routes))
    assert one_line_refusal(outcome).endswith("localhost resolves to 10.0.0.7 (private), which the grant does not name")
    assert routes.asked == [] and secret.hits == []


def test_a_name_that_does_not_resolve_is_one_line(enabled: Settings) -> None:
    def nowhere(host: str) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    outcome = fetch(enabled, ["net:example.test"], "http://example.test/", NetAccess(nowhere, Routes()))
    assert one_line_refusal(outcome) == "error: web_fetch: cannot resolve example.test (Name or service not known)"


# ---- pinning keeps TLS about the name: SNI and the certificate check are for the host, not the pinned address ----
def _certificates(tmp_path: Path, name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for `name` signed by it (cryptography is a test-only need)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def key_and_name(common: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Name]:
        return ec.generate_private_key(ec.SECP256R1()), x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    now = datetime.datetime.now(datetime.UTC)
    ca_key, ca_name = key_and_name("EdgeMind test CA")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key, subject = key_and_name(name)
    leaf = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tmp_path / "ca.pem", tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.mark.parametrize("certified", ["example.test", "other.test"])
def test_a_pinned_https_fetch_checks_the_certificate_for_the_name(
        enabled: Settings, listen: Callable[..., _Server], tmp_path: Path, certified: str) -> None:
    ca, cert, key = _certificates(tmp_path, certified)
    server = listen(b"over tls")
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    names: list[str | None] = []

    def remember(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        names.append(name)

    served.sni_callback = remember
    server.socket = served.wrap_socket(server.socket, server_side=True)
    trusted = ssl.create_default_context(cafile=str(ca))
    routes = Routes(to={(PUBLIC, server.port): server.port})
    outcome = fetch(enabled, ["net:example.test"], f"https://example.test:{server.port}/",
                    NetAccess(Dns([[PUBLIC]]), routes, trusted))
    assert names == ["example.test"] and routes.asked == [(PUBLIC, server.port)]  # SNI names the host, not the IP
    if certified == "example.test":
        assert outcome.ok and outcome.content == "over tls", outcome.content
    else:
        message = one_line_refusal(outcome)
        assert "certificate" in message.lower() and "example.test" in message, message
        assert server.hits == []


def test_a_grant_naming_ipv6_loopback_reaches_it(enabled: Settings, listen: Callable[..., _Server]) -> None:
    try:
        local = listen(b"ipv6 service", "::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    outcome = fetch(enabled, ["net:::1"], f"http://[::1]:{local.port}/")
    assert outcome.ok and outcome.content == "ipv6 service", outcome.content
    assert local.hits == [("/", f"[::1]:{local.port}")]
