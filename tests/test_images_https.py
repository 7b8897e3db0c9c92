"""HTTPS for the image fetcher, for real: a throwaway CA, TLS servers on loopback.

Every host name here (``images.test``, ``internal.test``) exists only in the
test resolver, so a request can only succeed by connecting to the address the
safety check approved while verifying the certificate against the real name.
An autouse guard fails any test whose fetcher opens a socket off loopback.
"""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import subprocess

import pytest
from images_support import ImageServer
from tls_support import (
    HandshakeDripServer,
    TLSImageServer,
    make_ca,
    make_server_cert,
    write_pem,
)

from pipeline.images import ImageConfig, ImageFetcher, ImageRequest, connections

FAST = {"timeout_s": 2.0, "backoff_base_s": 0.05, "per_host_rate": 0.0}
PHOTO = "/img/astronaut-320x240.jpg"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """PEM paths: our CA, a stranger CA, and server certificates issued for various names."""
    root = tmp_path_factory.mktemp("pki")
    ca, stranger = make_ca(), make_ca("Stranger CA")
    paths = {"ca": write_pem(root, "ca", ca)[0], "stranger_ca": write_pem(root, "sca", stranger)[0]}
    leaves = {
        "good": make_server_cert(ca, ("images.test", "localhost")),
        "other_name": make_server_cert(ca, ("other.test",)),
        "expired": make_server_cert(ca, ("images.test",), expired=True),
    }
    for stem, leaf in leaves.items():
        paths[stem] = write_pem(root, stem, leaf)
    return paths


@pytest.fixture(scope="module")
def servers(pki):
    trap = ImageServer("127.0.0.1").start()  # plain HTTP: where a bad redirect would land
    tls = {
        "good": TLSImageServer("127.0.0.1", *pki["good"]),
        "other_name": TLSImageServer("127.0.0.1", *pki["other_name"]),
        "expired": TLSImageServer("127.0.0.1", *pki["expired"]),
        # "public" first hop of the redirect tests, allowlisted by address
        "public": TLSImageServer("127.0.0.2", *pki["good"], internal_port=trap.server_address[1]),
    }
    for server in tls.values():
        server.start()
    yield {"trap": trap, **tls}
    for server in (*tls.values(), trap):
        server.stop()


@pytest.fixture(autouse=True)
def connections_made(monkeypatch):
    """Every (address, port) the fetcher connects to; anything off loopback fails the test."""
    made: list[tuple[str, int]] = []
    real = connections.socket.create_connection

    def guarded(address, *args, **kwargs):
        assert ipaddress.ip_address(address[0]).is_loopback, f"left loopback: {address}"
        made.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(connections.socket, "create_connection", guarded)
    return made


def resolver_for(mapping: dict[str, str]):
    return lambda host: [mapping[host]]


def fetch(url: str, resolver, **overrides):
    config = ImageConfig(**{**FAST, **overrides})
    with ImageFetcher(config, resolver=resolver) as fetcher:
        return fetcher.fetch(ImageRequest(url))


class Counts:
    """What a TLS server saw during a block: handshakes (SNIs), requests, Host headers."""

    def __init__(self, server: TLSImageServer) -> None:
        self.server = server
        self.snis0, self.log0 = len(server.snis), len(server.log)

    @property
    def snis(self) -> list:
        return self.server.snis[self.snis0 :]

    @property
    def requests(self) -> list[str]:
        return self.server.log[self.log0 :]

    @property
    def hosts(self) -> list[str]:
        return self.server.hosts[self.log0 :]


@pytest.mark.parametrize("name", ["images.test", "localhost"])
def test_https_fetch_verifies_name_and_sends_sni_and_host(servers, pki, connections_made, name):
    server = servers["good"]
    port = server.server_address[1]
    seen = Counts(server)
    result = fetch(
        server.url(PHOTO, name),
        resolver_for({name: "127.0.0.1"}),
        allow_private_networks=True,
        ca_bundle=str(pki["ca"]),
    )
    assert result.status == "ok", result.error
    assert result.source == "http" and result.data[:3] == b"\xff\xd8\xff"
    assert seen.requests == ["/robots.txt", PHOTO]  # robots.txt first, over the same TLS host
    assert seen.snis == [name]  # one handshake: the image reused the robots.txt connection
    assert seen.hosts == [f"{name}:{port}"] * 2
    assert connections_made == [("127.0.0.1", port)]


@pytest.mark.parametrize("robots", [False, True])
def test_certificate_for_another_name_is_a_tls_error_before_any_request(servers, pki, robots):
    server = servers["other_name"]
    seen = Counts(server)
    result = fetch(
        server.url(PHOTO),
        resolver_for({"images.test": "127.0.0.1"}),
        allow_private_networks=True,
        ca_bundle=str(pki["ca"]),
        respect_robots=robots,
    )
    assert result.status == "tls_error"
    assert seen.requests == []  # no request line was sent, so no body was read
    assert seen.snis == ["images.test"]  # not retried: a bad certificate stays bad
    if not robots:
        assert "Hostname mismatch" in result.error


@pytest.mark.parametrize("bundle", [None, "stranger_ca"])
def test_untrusted_ca_is_refused(servers, pki, bundle):
    server = servers["good"]
    seen = Counts(server)
    result = fetch(
        server.url(PHOTO),
        resolver_for({"images.test": "127.0.0.1"}),
        allow_private_networks=True,
        respect_robots=False,
        ca_bundle=str(pki[bundle]) if bundle else None,
    )
    assert result.status == "tls_error"
    assert "certificate verify failed" in result.error
    assert seen.requests == [] and len(seen.snis) == 1


def test_expired_certificate_is_refused(servers, pki):
    server = servers["expired"]
    seen = Counts(server)
    result = fetch(
        server.url(PHOTO),
        resolver_for({"images.test": "127.0.0.1"}),
        allow_private_networks=True,
        respect_robots=False,
        ca_bundle=str(pki["ca"]),
    )
    assert result.status == "tls_error" and "expired" in result.error
    assert seen.requests == []


@pytest.mark.parametrize("route", ["/redirect/loopback", "/redirect/internal-name"])
def test_https_redirect_to_internal_http_is_refused_before_connecting(
    servers, pki, connections_made, route
):
    public, trap = servers["public"], servers["trap"]
    seen = Counts(public)
    result = fetch(
        public.url(route),
        resolver_for({"images.test": "127.0.0.2", "internal.test": "127.0.0.1"}),
        allowed_networks=("127.0.0.2/32",),  # the first hop only; loopback stays closed
        ca_bundle=str(pki["ca"]),
    )
    assert result.status == "private_address"
    assert "127.0.0.1" in result.error
    assert seen.requests == ["/robots.txt", route]  # the TLS hop really happened
    assert trap.log == []
    assert {address for address, _ in connections_made} == {"127.0.0.2"}


class Rebinder:
    """The first answer is the checked server; every later one points elsewhere."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, host: str) -> list[str]:
        self.calls += 1
        return ["127.0.0.1"] if self.calls == 1 else ["127.0.0.2"]


def _rebind_fetch_twice(server, pki, ttl_s: float):
    resolver = Rebinder()
    config = ImageConfig(
        allowed_networks=("127.0.0.1/32",),
        ca_bundle=str(pki["ca"]),
        respect_robots=False,
        dns_cache_ttl_s=ttl_s,
        **FAST,
    )
    with ImageFetcher(config, resolver=resolver) as fetcher:
        first = fetcher.fetch(ImageRequest(server.url("/img/coffee-300x200.jpg")))
        second = fetcher.fetch(ImageRequest(server.url("/img/rocket-300x200.jpg")))
    return resolver, first, second


def test_rebinding_over_tls_keeps_the_checked_address(servers, pki, connections_made):
    server = servers["good"]
    seen = Counts(server)
    resolver, first, second = _rebind_fetch_twice(server, pki, ttl_s=300.0)
    assert (first.status, second.status) == ("ok", "ok")
    assert resolver.calls == 1  # answered once; the changed answer is never asked for
    assert connections_made == [("127.0.0.1", server.server_address[1])]
    assert seen.snis == ["images.test"]  # TLS to the checked address, under the real name


def test_rebinding_over_tls_after_ttl_is_checked_again(servers, pki, connections_made):
    server = servers["good"]
    resolver, first, second = _rebind_fetch_twice(server, pki, ttl_s=0.0)
    assert (first.status, second.status) == ("ok", "private_address")
    assert "127.0.0.2" in second.error
    assert resolver.calls == 2
    assert connections_made == [("127.0.0.1", server.server_address[1])]


def _fetch_from_drip(drip: HandshakeDripServer):
    try:
        return fetch(
            f"https://images.test:{drip.port}/a.jpg",
            resolver_for({"images.test": "127.0.0.1"}),
            allow_private_networks=True,
            respect_robots=False,
            retries=0,
            timeout_s=1.0,
        )
    finally:
        drip.stop()


def test_dripping_handshake_ends_at_the_deadline():
    # The server drips the handshake forever, one byte per 0.3 s: no per-read timeout ever
    # fires, so only a total deadline can end it with a timeout.
    drip = HandshakeDripServer(delay_s=0.3).start()
    result = _fetch_from_drip(drip)
    assert result.status == "timeout", result.error
    assert drip.accepted == 1


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI to hash names")
def test_ca_bundle_may_be_a_hashed_directory(servers, pki, tmp_path):
    subject_hash = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(pki["ca"])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    shutil.copy(pki["ca"], tmp_path / f"{subject_hash}.0")
    result = fetch(
        servers["good"].url(PHOTO),
        resolver_for({"images.test": "127.0.0.1"}),
        allow_private_networks=True,
        respect_robots=False,
        ca_bundle=str(tmp_path),
    )
    assert result.status == "ok", result.error


def test_verification_has_no_off_switch(pki, tmp_path):
    for bundle in (None, str(pki["ca"])):
        context = connections.tls_context(bundle)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    with pytest.raises(ValueError, match="ca_bundle"):
        ImageConfig(ca_bundle=str(tmp_path / "missing.pem"))


def test_the_tls_handshake_runs_under_the_total_deadline(monkeypatch):
    """The watchdog, not only the socket timeout, bounds the handshake: the socket is armed
    before the handshake starts (checked directly, not by the clock)."""
    from pipeline.images import deadline, http

    armed, checked = set(), []
    real_arm, real_handshake = deadline.Watchdog.arm, http.handshake

    def arm(self, sock, when):
        armed.add(id(sock))
        return real_arm(self, sock, when)

    def handshake(sock):
        checked.append(id(sock) in armed)
        return real_handshake(sock)

    monkeypatch.setattr(deadline.Watchdog, "arm", arm)
    monkeypatch.setattr(http, "handshake", handshake)
    result = _fetch_from_drip(HandshakeDripServer(delay_s=0.1).start())
    assert result.status == "timeout", result.error
    assert checked == [True]


def test_peer_hanging_up_mid_handshake_is_a_retried_connection_error():
    server = HandshakeDripServer(hang_up=True).start()
    try:
        result = fetch(
            f"https://images.test:{server.port}/a.jpg",
            resolver_for({"images.test": "127.0.0.1"}),
            allow_private_networks=True,
            respect_robots=False,
            retries=1,
        )
    finally:
        server.stop()
    assert result.status == "connection_error", result.error  # transient, unlike tls_error
    assert server.accepted == 2
