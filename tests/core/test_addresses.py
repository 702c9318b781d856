"""The address policy behind `net:` grants: what counts as special, how numeric hosts are read, what names an address."""

from __future__ import annotations

import ipaddress

import pytest

from edgemind.core.errors import NetworkRefused
from edgemind.core.tools.addresses import (
    check_addresses,
    classify,
    legacy_ipv4,
    literal_address,
    names_plainly,
    parse_resolved,
)


@pytest.mark.parametrize(("text", "label"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.0.0.1", "private"), ("172.31.255.255", "private"),
    ("192.168.0.1", "private"), ("fc00::1", "private"), ("fd00::1", "private"), ("100.127.255.255", "carrier-grade NAT"),
    ("169.254.169.254", "cloud metadata"), ("fd00:ec2::254", "cloud metadata"), ("169.254.0.1", "link-local"),
    ("fe80::abcd", "link-local"), ("239.255.255.250", "multicast"), ("ff05::2", "multicast"), ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"), ("::", "unspecified"), ("240.0.0.1", "reserved"), ("192.0.2.1", "reserved"),
    ("198.18.0.1", "reserved"), ("2001:db8::5", "reserved"), ("::ffff:10.0.0.1", "private"),
    ("64:ff9b::a9fe:a9fe", "cloud metadata"),
])
def test_special_addresses_are_named_by_their_class(text: str, label: str) -> None:
    found = classify(ipaddress.ip_address(text))
    assert found is not None and found.label == label


@pytest.mark.parametrize("text", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.215.14",
                                  "100.128.0.1", "172.32.0.1"])
def test_public_addresses_are_not_special(text: str) -> None:
    assert classify(ipaddress.ip_address(text)) is None


@pytest.mark.parametrize(("host", "address"), [
    ("2130706433", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("017700000001", "127.0.0.1"), ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("0x7f.0.0.1", "127.0.0.1"), ("0xA9.0xFE.0xA9.0xFE",
                                                                                          "169.254.169.254"),
    ("0", "0.0.0.0"), ("10.0.0.1", "10.0.0.1"),
])
def test_old_style_numeric_hosts_are_read_as_inet_aton_reads_them(host: str, address: str) -> None:
    assert legacy_ipv4(host) == ipaddress.IPv4Address(address)


@pytest.mark.parametrize("host", ["example.org", "1.2.3.4.5", "256.1.1.1", "08.1.1.1", "0x1g", "1..2", "4294967296",
                                  "1.2.3.256", "1e3", "٣.1.1.1", "0x7f_00.1"])
def test_names_are_not_taken_for_numbers(host: str) -> None:
    assert legacy_ipv4(host) is None


def test_only_a_plain_spelling_names_an_address() -> None:
    loopback = ipaddress.ip_address("127.0.0.1")
    assert names_plainly("127.0.0.1", loopback)
    for disguise in ("2130706433", "127.1", "::ffff:127.0.0.1", "[::ffff:7f00:1]", "localhost"):
        assert not names_plainly(disguise, loopback)
    assert names_plainly("[::1]", ipaddress.ip_address("::1")) and names_plainly("0:0::1", ipaddress.ip_address("::1"))
    assert literal_address("[::ffff:127.0.0.1]") == ipaddress.ip_address("::ffff:127.0.0.1")


def test_check_lets_public_and_plainly_named_addresses_through() -> None:
    public = ipaddress.ip_address("93.184.215.14")
    assert check_addresses("example.org", [public]) == (public,)
    assert check_addresses("10.0.0.5", [ipaddress.ip_address("10.0.0.5")])
    assert check_addresses("localhost", [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")])
    with pytest.raises(NetworkRefused, match=r"^localhost resolves to 10.0.0.5 \(private\)"):
        check_addresses("localhost", [ipaddress.ip_address("10.0.0.5")])


def test_a_resolver_answer_that_is_not_an_address_is_refused() -> None:
    with pytest.raises(NetworkRefused, match="not an address"):
        parse_resolved("example.org", ["evil.example"])
    with pytest.raises(NetworkRefused, match="resolves to no address"):
        parse_resolved("example.org", [])
    assert parse_resolved("example.org", ["fe80::1%eth0", "fe80::1%eth0"]) == (ipaddress.ip_address("fe80::1"),)
