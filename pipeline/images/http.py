"""The safe HTTP client: checked addresses, total deadlines, caps, redirects, retries.

Every hop of a request goes through the same gate: scheme and address check
(``netsafety``), robots.txt of that host (``robots``), the host's politeness
slot, then one attempt on a pinned keep-alive connection whose socket is
shut down by the watchdog at the attempt's deadline. Headers are judged
(status, X-Robots-Tag, type, length, encoding) before any body byte is read,
and the body is judged again on its first bytes.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin

from pipeline.images.body import (
    MAGIC_BYTES_NEEDED,
    BodyError,
    CappedDecoder,
    opt_out_directive,
    refusal_for_content_type,
    refusal_for_head,
)
from pipeline.images.config import ImageConfig
from pipeline.images.connections import ConnectionPool, handshake
from pipeline.images.deadline import Watchdog
from pipeline.images.netsafety import AddressChecker, Target, UnsafeTarget
from pipeline.images.politeness import HostGate, backoff_seconds, retry_after_seconds

log = logging.getLogger(__name__)

REDIRECTS = {301, 302, 303, 307, 308}
TRANSIENT = {"connection_error", "http_429", "http_500", "http_502", "http_503", "http_504"}
_ACCEPT_IMAGE = "image/webp,image/jpeg,image/png,image/gif;q=0.9,image/*;q=0.5"
_STALE = (
    http.client.RemoteDisconnected,
    http.client.BadStatusLine,
    BrokenPipeError,
    ConnectionResetError,
)

_TLS_HANGUPS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)

_ROBOTS_ERRORS = {
    "robots_disallowed": "robots.txt disallows this path",
    "tls_error": "TLS failed when fetching this host's robots.txt",
}

RobotsCheck = Callable[[Target, str], "str | None"]


@dataclass
class HttpOutcome:
    status: str  # "ok" or a reason
    data: bytes = b""
    url: str = ""  # final URL after redirects
    error: str = ""
    location: str = ""  # redirect target, internal to the client
    retry_after: float | None = None


class SafeHttpClient:
    """GET with every safety rule on. Thread-safe; one per worker."""

    def __init__(self, config: ImageConfig, checker: AddressChecker) -> None:
        self.config = config
        self.checker = checker
        self.pool = ConnectionPool(config.per_host_concurrency, config.ca_bundle)
        self.gate = HostGate(config.per_host_concurrency, config.per_host_rate)
        self.watchdog = Watchdog()
        self.robots_check: RobotsCheck | None = None  # set by the fetcher once robots exist
        self.requests = Counter()  # origin -> requests sent (tests and stats read it)
        self._lock = threading.Lock()

    def get(
        self, url: str, referer: str | None = None, *, image: bool = True, max_bytes: int = 0
    ) -> HttpOutcome:
        """Fetch ``url`` following at most ``max_redirects`` redirects, each hop re-checked."""
        max_bytes = max_bytes or self.config.max_original_bytes
        current = urldefrag(url)[0]
        for _ in range(self.config.max_redirects + 1):
            try:
                target = self.checker.check_url(current)
            except UnsafeTarget as err:
                return HttpOutcome(err.reason, url=current, error=str(err))
            if image and self.robots_check is not None:
                refusal = self.robots_check(target, current)
                if refusal:
                    return HttpOutcome(refusal, url=current, error=_ROBOTS_ERRORS.get(refusal, ""))
            outcome = self._with_retries(target, referer, image, max_bytes)
            outcome.url = current
            if not outcome.location:
                return outcome
            referer, current = current, urldefrag(urljoin(current, outcome.location))[0]
        return HttpOutcome(
            "too_many_redirects", url=current, error=f"over {self.config.max_redirects} hops"
        )

    def close(self) -> None:
        self.watchdog.close()
        self.pool.close()

    def _with_retries(
        self, target: Target, referer: str | None, image: bool, max_bytes: int
    ) -> HttpOutcome:
        host = target.host
        for attempt in range(self.config.retries + 1):
            with self.gate.slot(host):
                outcome = self._attempt(target, referer, image, max_bytes)
            if outcome.status not in TRANSIENT or attempt == self.config.retries:
                return outcome
            wait = outcome.retry_after
            if wait is not None:
                if wait > self.config.max_retry_after_s:
                    outcome.error = f"Retry-After {wait:.0f}s is over the limit"
                    return outcome
                self.gate.pause(host, wait)
            else:
                wait = backoff_seconds(
                    attempt, self.config.backoff_base_s, self.config.backoff_max_s
                )
            log.debug("retrying %s in %.2fs after %s", target.host, wait, outcome.status)
            time.sleep(wait)
        raise AssertionError("unreachable")

    def _attempt(
        self, target: Target, referer: str | None, image: bool, max_bytes: int
    ) -> HttpOutcome:
        deadline = time.monotonic() + self.config.timeout_s
        for _ in range(2):  # a second go only when a reused keep-alive connection had gone stale
            conn, reused = self.pool.take(
                target, min(self.config.connect_timeout_s, self.config.timeout_s)
            )
            try:
                return self._exchange(conn, target, referer, image, max_bytes, deadline)
            except _STALE as err:
                conn.close()
                if time.monotonic() >= deadline:  # the watchdog hung up on a late response
                    return HttpOutcome("timeout", error=f"over {self.config.timeout_s}s")
                if not reused:
                    return HttpOutcome("connection_error", error=repr(err))
            except TimeoutError:
                conn.close()
                return HttpOutcome("timeout", error=f"over {self.config.timeout_s}s")
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                late = time.monotonic() >= deadline
                return HttpOutcome("timeout" if late else _network_reason(err), error=repr(err))
        return HttpOutcome("connection_error", error="stale connection twice")

    def _exchange(self, conn, target, referer, image, max_bytes, deadline) -> HttpOutcome:
        fresh = conn.sock is None
        if fresh:
            conn.connect()
        sock = conn.sock  # http.client drops conn.sock when the server says "Connection: close"
        token = self.watchdog.arm(sock, deadline)
        resp = None
        try:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            if fresh:
                handshake(sock)
            self._send(conn, target, referer, image)
            resp = conn.getresponse()
            outcome = self._judge_headers(resp, image, max_bytes)
            if outcome is None:
                outcome = self._read_body(sock, resp, image, max_bytes, deadline)
        finally:
            self.watchdog.disarm(token)
            if resp is not None and not resp.isclosed():
                resp.close()
        if outcome.status == "ok" and not resp.will_close:
            self.pool.give_back(target, conn)
        else:
            conn.close()  # unread or untrusted bytes may be left on the wire
        return outcome

    def _send(self, conn, target: Target, referer: str | None, image: bool) -> None:
        with self._lock:
            self.requests[target.origin] += 1
        conn.putrequest("GET", target.path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", target.host_header)
        conn.putheader("User-Agent", self.config.user_agent)
        conn.putheader("Accept", _ACCEPT_IMAGE if image else "text/plain,*/*;q=0.5")
        conn.putheader("Accept-Encoding", "gzip, deflate")
        if referer and self.config.send_referer and referer.isascii() and referer.isprintable():
            conn.putheader("Referer", referer)
        conn.endheaders()

    def _judge_headers(self, resp, image: bool, max_bytes: int) -> HttpOutcome | None:
        """An outcome decided by the status line and headers alone, or None to read the body."""
        if resp.status in REDIRECTS and resp.getheader("Location"):
            return HttpOutcome("redirect", location=resp.getheader("Location", ""))
        if resp.status != 200:
            retry = retry_after_seconds(resp.getheader("Retry-After"))
            return HttpOutcome(f"http_{resp.status}", error=resp.reason, retry_after=retry)
        directive = opt_out_directive(
            resp.headers.get_all("X-Robots-Tag") or [],
            self.config.agent_token,
            self.config.disallowed_directives,
        )
        if image and directive:
            return HttpOutcome("noai", error=f"X-Robots-Tag: {directive}")
        content_type = resp.getheader("Content-Type", "")
        refusal = refusal_for_content_type(content_type) if image else None
        if refusal:
            return HttpOutcome(refusal[0], error=refusal[1])
        length = resp.getheader("Content-Length", "")
        if length.isdigit() and int(length) > max_bytes and not resp.getheader("Content-Encoding"):
            return HttpOutcome("too_large", error=f"Content-Length {length}")
        return None

    def _read_body(self, sock, resp, image: bool, max_bytes: int, deadline: float) -> HttpOutcome:
        try:
            decoder = CappedDecoder(
                resp.getheader("Content-Encoding", ""), max_bytes, self.config.max_content_encodings
            )
            parts, head, judged = [], b"", not image
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return HttpOutcome(
                        "timeout", error=f"body not done in {self.config.timeout_s}s"
                    )
                sock.settimeout(remaining)
                chunk = resp.read1(65536)
                if not chunk:
                    break
                data = decoder.feed(chunk)
                parts.append(data)
                if not judged and (len(head) < MAGIC_BYTES_NEEDED):
                    head += data[: MAGIC_BYTES_NEEDED - len(head)]
                    if len(head) >= MAGIC_BYTES_NEEDED:
                        judged = True
                        refusal = refusal_for_head(head, resp.getheader("Content-Type", ""))
                        if refusal:
                            return HttpOutcome(refusal[0], error=refusal[1])
        except BodyError as err:
            return HttpOutcome(err.reason, error=str(err))
        except http.client.IncompleteRead as err:
            return HttpOutcome("truncated", error=f"body ended early: {err!r}")
        if time.monotonic() >= deadline:  # EOF caused by the watchdog, not by the server
            return HttpOutcome("timeout", error=f"body not done in {self.config.timeout_s}s")
        if resp.length:  # read1 reports a short Content-Length body as EOF, not IncompleteRead
            return HttpOutcome("truncated", error=f"{resp.length} bytes short of Content-Length")
        body = b"".join(parts)
        if not judged:
            refusal = refusal_for_head(body, resp.getheader("Content-Type", ""))
            if refusal:
                return HttpOutcome(refusal[0], error=refusal[1])
        return HttpOutcome("ok", data=body)


def _network_reason(err: Exception) -> str:
    # A TLS failure (untrusted chain, wrong name, expired, protocol error) is not transient:
    # retrying would only repeat the handshake, so it has its own reason, outside TRANSIENT.
    # A peer that just hung up mid-TLS is an ordinary connection failure.
    if isinstance(err, ssl.SSLError) and not isinstance(err, _TLS_HANGUPS):
        return "tls_error"
    return "connection_error" if isinstance(err, OSError) else "bad_response"
