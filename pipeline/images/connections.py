"""HTTP(S) connections pinned to a checked address, and a keep-alive pool of them.

``http.client`` would resolve the host again on connect; these connect to the
address the safety check approved while sending the real name in ``Host`` and
as TLS SNI (the certificate is verified against that name). We use
``http.client`` directly rather than requests/urllib3 because we need the raw
socket (for the total-deadline watchdog) and ``read1`` (one recv per call, so
a dripping server cannot block a read), which those libraries hide.

TLS always verifies the chain and the host name (``ssl.create_default_context``:
TLS >= 1.2, CERT_REQUIRED, check_hostname); the only knob is which CAs are
trusted. The handshake is deferred to ``handshake`` so that the caller's
total-deadline watchdog covers it.
"""

from __future__ import annotations

import functools
import http.client
import os
import socket
import ssl
import threading

from pipeline.images.netsafety import Target

PoolKey = tuple[str, str, int, str]


class PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.ip, target.port, timeout=timeout)

    def connect(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.ip, target.port, timeout=timeout, context=context)
        self._server_name = target.host

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # No handshake here: the caller runs it (``handshake``) once its deadline watchdog watches
        # the socket, so connect + handshake + response together stay inside the total deadline.
        self.sock = self._context.wrap_socket(
            sock, server_hostname=self._server_name, do_handshake_on_connect=False
        )


def handshake(sock: socket.socket) -> None:
    """Finish a new TLS connection (verifying chain and name); nothing to do for plain TCP."""
    if isinstance(sock, ssl.SSLSocket):
        sock.do_handshake()


@functools.cache
def tls_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """A verifying client context: the system CAs, or only those in ``ca_bundle`` (file or dir).

    One per process and bundle: loading the system CAs costs ~0.25 s of CPU, and a Beam worker
    builds a fetcher per DoFn instance; a context is safe to share between threads.
    """
    if ca_bundle is None:
        context = ssl.create_default_context()
    elif os.path.isdir(ca_bundle):
        context = ssl.create_default_context(capath=ca_bundle)
    else:
        context = ssl.create_default_context(cafile=ca_bundle)
    context.set_alpn_protocols(["http/1.1"])  # what http.client does for its own contexts
    return context


class ConnectionPool:
    """Idle keep-alive connections per (scheme, host, port, address). Thread-safe."""

    def __init__(self, max_idle_per_key: int, ca_bundle: str | None = None) -> None:
        self.max_idle = max_idle_per_key
        self._idle: dict[PoolKey, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._tls = tls_context(ca_bundle)

    @staticmethod
    def key(target: Target) -> PoolKey:
        return (target.scheme, target.host, target.port, target.ip)

    def take(self, target: Target, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """A connection (not yet connected when new) and whether it was reused."""
        with self._lock:
            idle = self._idle.get(self.key(target))
            if idle:
                return idle.pop(), True
        if target.scheme == "https":
            return PinnedHTTPSConnection(target, timeout, self._tls), False
        return PinnedHTTPConnection(target, timeout), False

    def give_back(self, target: Target, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(self.key(target), [])
            if len(idle) < self.max_idle:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()
