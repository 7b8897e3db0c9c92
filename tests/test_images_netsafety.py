"""Address classification, numeric spellings, schemes, and DNS rebinding."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from pipeline.images import netsafety
from pipeline.images.netsafety import (
    AddressChecker,
    UnsafeTarget,
    address_problem,
    parse_ip_literal,
)

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.1", "loopback"),
    ("0x7f000001", "loopback"),
    ("2130706433", "loopback"),
    ("0177.0.0.1", "loopback"),
    ("0x7f.1", "loopback"),
    ("[::1]", "loopback"),
    ("[::ffff:127.0.0.1]", "loopback"),
    ("[::ffff:7f00:1]", "loopback"),
    ("[2002:7f00:1::]", "loopback"),  # 6to4 wrapping 127.0.0.1
    ("[64:ff9b::a00:1]", "private"),  # NAT64 wrapping 10.0.0.1
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("[fd00::1]", "private"),
    ("100.64.0.1", "cgnat"),
    ("169.254.169.254", "link_local"),
    ("[fe80::1]", "link_local"),
    ("[::ffff:169.254.169.254]", "link_local"),
    ("0.0.0.0", "unspecified"),
    ("0", "unspecified"),
    ("[::]", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("[ff02::1]", "multicast"),
    ("240.0.0.1", "reserved"),
    ("198.18.0.1", "private"),  # benchmarking range
    ("192.0.2.1", "private"),  # documentation range
]
PUBLIC = [
    "8.8.8.8",
    "93.184.216.34",
    "1.1.1.1",
    "[2606:4700:4700::1111]",
    "0x08080808",
    "134744072",
]


def _classify(host: str, allow_private: bool = False) -> str | None:
    ip = parse_ip_literal(host)
    assert ip is not None, host
    return address_problem(ip, allow_private)


@pytest.mark.parametrize("host,problem", REFUSED)
def test_refused_addresses(host, problem):
    assert _classify(host) == problem


@pytest.mark.parametrize("host", PUBLIC)
def test_public_addresses(host):
    assert _classify(host) is None


@pytest.mark.parametrize("host", ["169.254.169.254", "224.0.0.1", "0.0.0.0", "[fe80::1]"])
def test_never_allowed_even_with_private_networks(host):
    assert _classify(host, allow_private=True) is not None


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.1", "100.64.0.1", "[fd00::1]"])
def test_private_networks_option_opens_private_ranges(host):
    assert _classify(host, allow_private=True) is None


@pytest.mark.parametrize("host", ["example.com", "1.2.3.4.5", "0x7g.0.0.1", "localhost"])
def test_names_are_not_literals(host):
    assert parse_ip_literal(host) is None


def _never_resolve(host):
    raise AssertionError(f"resolver called for {host}")


@pytest.mark.parametrize(
    "url,reason",
    [
        ("file:///etc/passwd", "bad_scheme"),
        ("data:image/png;base64,AAAA", "bad_scheme"),
        ("ftp://example.com/a.jpg", "bad_scheme"),
        ("gopher://example.com/", "bad_scheme"),
        ("http://user:pw@example.com/a.jpg", "bad_url"),
        ("http:///a.jpg", "bad_url"),
        ("http://example.com:99999/a.jpg", "bad_url"),
        ("http://0x7f000001/a.jpg", "private_address"),
        ("http://127.1:8080/a.jpg", "private_address"),
        ("http://[::ffff:127.0.0.1]/a.jpg", "private_address"),
        ("HTTP://169.254.169.254/latest/meta-data/", "private_address"),
    ],
)
def test_unsafe_urls_refused_without_dns(url, reason):
    with pytest.raises(UnsafeTarget) as err:
        AddressChecker(resolver=_never_resolve).check_url(url)
    assert err.value.reason == reason


def test_name_resolving_to_any_internal_address_is_refused():
    checker = AddressChecker(resolver=lambda host: ["93.184.216.34", "10.0.0.7"])
    with pytest.raises(UnsafeTarget) as err:
        checker.check_url("http://mixed.example/a.jpg")
    assert err.value.reason == "private_address"


def test_url_is_quoted_and_host_idna_encoded():
    checker = AddressChecker(resolver=lambda host: ["93.184.216.34"])
    target = checker.check_url("https://bücher.example/a b.jpg?q=ü#frag")
    assert target.host == "xn--bcher-kva.example"
    assert target.path == "/a%20b.jpg?q=%C3%BC"
    assert (target.ip, target.port, target.host_header) == (
        "93.184.216.34",
        443,
        "xn--bcher-kva.example",
    )


class Rebinder:
    """Public on the first answer, loopback afterwards: the classic rebinding attack."""

    def __init__(self):
        self.calls = 0

    def __call__(self, host):
        self.calls += 1
        return ["93.184.216.34"] if self.calls == 1 else ["127.0.0.1"]


def test_rebinding_resolver_connection_goes_to_the_checked_address(monkeypatch):
    from pipeline.images import ImageConfig, ImageFetcher, ImageRequest, connections

    connected = []

    def fake_connect(address, timeout=None, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError("test: no network")

    monkeypatch.setattr(connections.socket, "create_connection", fake_connect)
    resolver = Rebinder()
    config = ImageConfig(respect_robots=False, retries=0)
    with ImageFetcher(config, resolver=resolver) as fetcher:
        first = fetcher.fetch(ImageRequest("http://rebind.example/a.jpg"))
        second = fetcher.fetch(ImageRequest("http://rebind.example/b.jpg"))
    assert first.status == second.status == "connection_error"
    assert connected == [("93.184.216.34", 80), ("93.184.216.34", 80)]
    assert resolver.calls == 1  # resolved once, cached: a second answer is never asked for


def test_rebinding_after_ttl_is_checked_again():
    resolver = Rebinder()
    checker = AddressChecker(resolver=resolver, ttl_s=0.0)
    assert checker.check_url("http://rebind.example/").ip == "93.184.216.34"
    with pytest.raises(UnsafeTarget) as err:
        checker.check_url("http://rebind.example/")
    assert err.value.reason == "private_address"


def test_system_resolver_answers_localhost_as_loopback():
    addresses = netsafety.system_resolver("localhost")
    assert all(ipaddress.ip_address(a).is_loopback for a in addresses)
    assert socket.AF_INET  # the resolver returns plain strings, usable by create_connection
