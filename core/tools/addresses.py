"""Which network addresses a `net:<host>` grant lets a tool reach: public ones, and a special one only when named.

A grant names a host; where that host resolves is decided by whoever runs its DNS. So a resolved address that is
loopback, private, link-local, cloud metadata or otherwise not globally routable is refused unless the grant
names that very address (written plainly, as `127.0.0.1` or `::1`) or, for loopback only, names `localhost`.
Pure functions, no sockets: the caller resolves once, checks here, then connects to exactly what passed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import NetworkRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# First match wins: metadata before link-local, so the message names the attack a user would recognise.
_V4_CLASSES: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(net), label) for net, label in (
        ("169.254.169.254/32", "cloud metadata"),
        ("0.0.0.0/8", "unspecified"),
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("169.254.0.0/16", "link-local"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    ))
_V6_CLASSES: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(net), label) for net, label in (
        ("fd00:ec2::254/128", "cloud metadata"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("fc00::/7", "private"),
        ("ff00::/8", "multicast"),
    ))
# Prefixes that carry an IPv4 address in their low 32 bits: the host behind them is that IPv4 address.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"),)


@dataclass(frozen=True, slots=True)
class AddressClass:
    """Why an address is special (`label`), and the IPv4 address it stands for when it embeds one."""

    label: str
    embedded: ipaddress.IPv4Address | None = None

    def describe(self) -> str:
        how = f", IPv4 {self.embedded} inside IPv6" if self.embedded is not None else ""
        return f"{self.label}{how}"


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def shown(address: IPAddress) -> str:
    """An address as a reader expects it: an IPv4-mapped IPv6 address with its IPv4 part dotted."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def classify(address: IPAddress) -> AddressClass | None:
    """None for a globally routable address; otherwise what kind of special address it is."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            found = classify(inner)
            return AddressClass(found.label, inner) if found is not None else None
        for net6, label in _V6_CLASSES:
            if address in net6:
                return AddressClass(label)
    else:
        for net4, label in _V4_CLASSES:
            if address in net4:
                return AddressClass(label)
    # documentation, benchmarking, 6to4, Teredo, IETF protocol blocks...: not on the public internet either
    return None if address.is_global else AddressClass("reserved")


_HEX, _OCTAL, _DECIMAL = re.compile(r"0[xX][0-9a-fA-F]*"), re.compile(r"0[0-7]+"), re.compile(r"0|[1-9][0-9]*")


def _legacy_ipv4_part(text: str) -> int | None:
    if _HEX.fullmatch(text):
        return int(text[2:] or "0", 16)
    if _OCTAL.fullmatch(text):
        return int(text[1:], 8)
    return int(text, 10) if _DECIMAL.fullmatch(text) else None


def legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address an old-style numeric host means (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`), as C's
    inet_aton and browsers read it; None when `host` is a name. Parsed here so no resolver can disagree with us."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(parts):
        return None
    values = [_legacy_ipv4_part(p) for p in parts]
    if any(v is None for v in values):
        return None
    numbers = [v for v in values if v is not None]
    if any(v > 255 for v in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        return None
    value = numbers[-1]
    for index, part in enumerate(numbers[:-1]):
        value += part << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP literal (any spelling) means; None for a name to resolve."""
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return legacy_ipv4(text)


def names_plainly(host: str, address: IPAddress) -> bool:
    """Whether `host` is `address` written so a reader sees which address it is: dotted-quad IPv4, or IPv6 that
    does not hide an IPv4 address. `2130706433` and `::ffff:127.0.0.1` are disguises, never explicit grants."""
    text = host.strip("[]")
    try:
        written = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(written, ipaddress.IPv6Address) and _embedded_ipv4(written) is not None:
        return False
    return written == address


def is_localhost_name(host: str) -> bool:
    """`localhost` and names under it (RFC 6761): a grant for them means the user's own machine."""
    return host == "localhost" or host.endswith(".localhost")


def parse_resolved(host: str, answers: Iterable[str]) -> tuple[IPAddress, ...]:
    """A resolver's answers as addresses (zone ids dropped); NetworkRefused for anything that is not one."""
    out: list[IPAddress] = []
    for text in answers:
        try:
            address = ipaddress.ip_address(str(text).split("%", 1)[0])
        except ValueError:
            raise NetworkRefused(f"the resolver answered {str(text)[:60]!r} for {host}, not an address") from None
        if address not in out:
            out.append(address)
    if not out:
        raise NetworkRefused(f"{host} resolves to no address")
    return tuple(out)


def check_addresses(host: str, addresses: Iterable[IPAddress]) -> tuple[IPAddress, ...]:
    """Every address `host` resolved to, when all of them may be reached under a grant for `host`.

    NetworkRefused names the first that may not: one special address among public ones refuses the whole host,
    since a client that picks among them could be steered to it.
    """
    checked = tuple(addresses)
    for address in checked:
        found = classify(address)
        if found is None or names_plainly(host, address):
            continue
        if found.label == "loopback" and is_localhost_name(host):
            continue
        verb = "is" if literal_address(host) is not None else "resolves to"  # `2130706433 is 127.0.0.1`
        raise NetworkRefused(f"{host} {verb} {shown(address)} ({found.describe()}), which the grant does not name")
    return checked
