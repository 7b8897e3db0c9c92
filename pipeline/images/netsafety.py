"""SSRF defence: which URLs and addresses the fetcher may reach.

A URL is safe when its scheme is http(s) and every address its host resolves
to is public. Hosts are resolved once (cached, with a TTL) and the caller
connects to the very address that was checked, so a DNS answer that changes
between check and connect (rebinding) cannot redirect the request. IPv4-mapped,
6to4, Teredo and NAT64 IPv6 addresses are unwrapped to the IPv4 inside, and
numeric host spellings (``0x7f000001``, ``127.1``, ``2130706433``) are parsed
the way ``inet_aton`` (and so browsers and curl) read them.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, quote, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_IPV4_NUMERIC = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.IGNORECASE)


class UnsafeTarget(Exception):
    """A URL or address the fetcher must not reach; ``reason`` is the status."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``ip``) and what to ask for."""

    scheme: str
    host: str  # as sent in Host / SNI (IDNA-encoded)
    port: int
    ip: str
    path: str  # path + query, never empty

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a numeric host spells, or None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _IPV4_NUMERIC.match(host):
        try:  # inet_aton reads 127.1, 0x7f000001, 2130706433 and octal parts like libc does
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return None
    return None


def unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address hidden in an IPv6 one, if any (mapped, 6to4, Teredo, NAT64)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_problem(ip: IPAddress, allow_private: bool = False, allowed: tuple = ()) -> str | None:
    """Why ``ip`` must not be reached (a short category), or None when it may be.

    Link-local (cloud metadata at 169.254.169.254 lives there), multicast,
    unspecified and reserved addresses stay closed even when private networks
    are allowed: no intranet crawl needs them.
    """
    ip = unwrap(ip)  # the address packets actually reach; the IPv6 wrapper is irrelevant
    if any(ip in net for net in allowed):
        return None
    if ip.is_link_local:
        return "link_local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:  # before "reserved": ::1 sits inside the reserved ::/8
        return None if allow_private else "loopback"
    if ip.is_reserved:
        return "reserved"
    if allow_private:
        return None
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "cgnat"
    if ip.is_private or not ip.is_global:
        return "private"
    return None


def system_resolver(host: str) -> list[str]:
    """All addresses of ``host`` from the system resolver."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class AddressChecker:
    """Resolve hosts once (TTL cache) and refuse unsafe schemes and addresses. Thread-safe."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allowed_networks: tuple[str, ...] = (),
        resolver: Resolver | None = None,
        ttl_s: float = 300.0,
    ) -> None:
        self.allow_private = allow_private
        self.allowed = tuple(ipaddress.ip_network(n, strict=False) for n in allowed_networks)
        self.resolver = resolver or system_resolver
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def check_url(self, url: str) -> Target:
        """A Target to connect to, or raise UnsafeTarget (bad_scheme, bad_url, private_address, dns_error)."""
        parts = _split(url)
        host = _idna(parts.hostname or "")
        port = _port(parts)
        literal = parse_ip_literal(host)
        addresses = [str(literal)] if literal is not None else self._resolve(host)
        checked = self._first_safe(host, addresses)
        # Quote what crawlers find unquoted (spaces, UTF-8); control characters can then never
        # reach the request line.
        path = quote(parts.path or "/", safe=_SAFE_PATH)
        if parts.query:
            path += "?" + quote(parts.query, safe=_SAFE_PATH + "?")
        return Target(parts.scheme, str(literal) if literal else host, port, checked, path)

    def _first_safe(self, host: str, addresses: list[str]) -> str:
        # Refuse when any answer is unsafe: a name with one internal address is an internal name.
        for address in addresses:
            problem = address_problem(
                ipaddress.ip_address(address), self.allow_private, self.allowed
            )
            if problem:
                raise UnsafeTarget("private_address", f"{host} -> {address} ({problem})")
        return addresses[0]

    def _resolve(self, host: str) -> list[str]:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(host)
        if hit and hit[0] > now:
            return hit[1]
        try:
            addresses = self.resolver(host)
        except (OSError, UnicodeError) as err:
            raise UnsafeTarget("dns_error", f"{host}: {err}") from err
        if not addresses:
            raise UnsafeTarget("dns_error", f"{host}: no address")
        with self._lock:
            self._cache[host] = (now + self.ttl_s, addresses)
        return addresses


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError as err:
        raise UnsafeTarget("bad_url", f"{url!r}: {err}") from err
    if parts.scheme.lower() not in ("http", "https"):
        raise UnsafeTarget("bad_scheme", f"scheme {parts.scheme!r} not allowed")
    if not parts.hostname:
        raise UnsafeTarget("bad_url", f"{url!r}: no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("bad_url", "credentials in URL")
    return parts._replace(scheme=parts.scheme.lower())


def _idna(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError as err:
        raise UnsafeTarget("bad_url", f"host {host!r}: {err}") from err


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)
