"""HTTP that connects only to addresses already checked: resolve once, check, pin, connect to the pin.

httpx would resolve the host again at connect time, which is how DNS rebinding slips a second answer past a check.
Here the transport's network backend never resolves: it connects to the pinned addresses of the request's host and
refuses a host nobody pinned. The URL keeps the name, so the Host header, TLS SNI and the certificate check are for
the name. No proxy is ever used (a proxy would resolve the name itself, past the check).
"""

from __future__ import annotations

import ipaddress
import select
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from edgemind.core.tools.addresses import IPAddress

Resolver = Callable[[str], list[str]]  # host -> the addresses the OS resolver gives, as text
Connector = Callable[[str, int, float | None], socket.socket]  # (address, port, timeout) -> a connected socket


def system_resolve(host: str) -> list[str]:
    """The OS resolver's addresses for `host` (one lookup; the caller checks every answer)."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def system_connect(address: str, port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to an IP address: no name, so nothing is resolved here."""
    return socket.create_connection((address, port), timeout)


@dataclass(frozen=True, slots=True)
class NetAccess:
    """How a tool reaches the network; tests give a fake resolver and a recording connector (both OS seams)."""

    resolve: Resolver = system_resolve
    connect: Connector = system_connect
    ssl_context: ssl.SSLContext | None = None  # None: the default context, certificates checked for the name


def pin_key(host: str) -> str:
    """One spelling per host, so the fetcher's pins and httpcore's connect agree (`[::1]`, `::1`, `Example.`)."""
    text = host.strip("[]").lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


class _SocketStream(httpcore.NetworkStream):
    """A connected socket as httpcore reads and writes it, with httpcore's own exceptions."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            self._sock.settimeout(timeout)
            return self._sock.recv(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self._sock.settimeout(timeout)
            self._sock.sendall(buffer)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    def close(self) -> None:
        self._sock.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        try:
            self._sock.settimeout(timeout)
            return _SocketStream(ssl_context.wrap_socket(self._sock, server_hostname=server_hostname))
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:  # ssl.SSLError included: a certificate not valid for the name ends here
            raise httpcore.ConnectError(str(exc)) from exc

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            # the SSLSocket answers what httpcore asks of an SSLObject (selected_alpn_protocol)
            return self._sock if isinstance(self._sock, ssl.SSLSocket) else None
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":  # httpcore asks before reusing a kept-alive connection: readable = closed by peer
            return bool(select.select([self._sock], [], [], 0)[0])
        return None


@dataclass
class PinnedBackend(httpcore.NetworkBackend):
    """Connects a request's host and port to that host's pinned addresses only; a (host, port) nobody pinned is
    refused, never resolved (so a URL that httpx reads differently from the checker cannot go elsewhere)."""

    connect: Connector
    pins: dict[tuple[str, int], tuple[IPAddress, ...]] = field(default_factory=dict)

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        addresses = self.pins.get((pin_key(host), port))
        if not addresses:
            raise httpcore.ConnectError(f"{host} port {port} was not checked before connecting; refused")
        problems = []
        for address in addresses:
            try:
                sock = self.connect(str(address), port, timeout)
            except TimeoutError as exc:
                problems.append(f"{address}: timed out ({exc})")
                continue
            except OSError as exc:
                problems.append(f"{address}: {exc.strerror or exc}")
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return _SocketStream(sock)
        raise httpcore.ConnectError(f"cannot connect to {host} port {port} ({'; '.join(problems)})")

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("web tools never connect to Unix sockets")

    def sleep(self, seconds: float) -> None:
        select.select([], [], [], seconds)


_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout), (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout), (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError), (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError), (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError), (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProtocolError, httpx.ProtocolError), (httpcore.NetworkError, httpx.NetworkError),
)


def _as_httpx(exc: Exception, request: httpx.Request) -> httpx.TransportError:
    for theirs, ours in _ERRORS:
        if isinstance(exc, theirs):
            return ours(str(exc), request=request)
    return httpx.TransportError(str(exc), request=request)


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except httpcore.TimeoutException as exc:
            raise _as_httpx(exc, self._request) from exc
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise _as_httpx(exc, self._request) from exc

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class PinnedTransport(httpx.BaseTransport):
    """httpx's transport over a connection pool whose every connection goes through a PinnedBackend."""

    def __init__(self, backend: PinnedBackend, ssl_context: ssl.SSLContext | None = None) -> None:
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context or httpx.create_ssl_context(),
                                             network_backend=backend, retries=0, http1=True, http2=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.SyncByteStream):
            raise httpx.UnsupportedProtocol("an async body cannot go through a sync transport", request=request)
        core = httpcore.Request(method=request.method,
                                url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                                                 port=request.url.port, target=request.url.raw_path),
                                headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        try:
            response = self._pool.handle_request(core)
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
                httpcore.UnsupportedProtocol) as exc:
            raise _as_httpx(exc, request) from exc
        if not isinstance(response.stream, Iterable):
            raise httpx.TransportError("the connection pool gave an async body", request=request)
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_ResponseStream(response.stream, request), extensions=response.extensions)

    def close(self) -> None:
        self._pool.close()
