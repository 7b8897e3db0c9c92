"""robots.txt of image hosts: fetched once per origin through the safe client, cached.

Parsing is Protego's (the parser Scrapy uses; it knows wildcards, ``$`` and
``Allow`` precedence that ``urllib.robotparser`` gets wrong). Availability
follows RFC 9309: a 4xx robots.txt means no rules; an unreachable one (5xx,
timeout, refused) means full disallow, so an overloaded host is left alone.
A host whose TLS fails refuses its images as ``tls_error``, not as
``robots_disallowed``: the stats should say why the host was skipped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from protego import Protego

from pipeline.images.netsafety import Target

log = logging.getLogger(__name__)

Origin = tuple[str, str, int]
# fetch(url) -> (status, body): the safe client's GET without robots checks
RobotsFetch = Callable[[str], tuple[str, bytes]]
ROBOTS_MAX_BYTES = 512 * 1024  # Google's documented limit is 500 KiB


class RobotsCache:
    """One robots.txt verdict per origin. Thread-safe; concurrent askers wait for one fetch."""

    def __init__(self, fetch: RobotsFetch, agent_token: str) -> None:
        self.fetch = fetch
        self.agent = agent_token
        # Protego rules, True (no rules), False (unreachable: disallow all) or a refusal reason
        self._rules: dict[Origin, Protego | bool | str] = {}
        self._locks: dict[Origin, threading.Lock] = {}
        self._lock = threading.Lock()

    def refusal(self, target: Target, url: str) -> str | None:
        """``robots_disallowed`` when the host's robots.txt forbids ``url`` to us, else None.

        ``tls_error`` when the host's robots.txt failed TLS: its images would fail the same way.
        """
        rules = self._rules_for(target)
        if rules is True:
            return None
        if isinstance(rules, str):
            return rules
        if rules is False or not rules.can_fetch(url, self.agent):
            return "robots_disallowed"
        return None

    def _rules_for(self, target: Target) -> Protego | bool | str:
        origin = target.origin
        rules = self._rules.get(origin)
        if rules is not None:
            return rules
        with self._lock:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:
            if origin not in self._rules:
                self._rules[origin] = self._load(origin)
            return self._rules[origin]

    def _load(self, origin: Origin) -> Protego | bool | str:
        scheme, host, port = origin
        name = f"[{host}]" if ":" in host else host
        status, body = self.fetch(f"{scheme}://{name}:{port}/robots.txt")
        if status == "ok":
            return Protego.parse(body.decode("utf-8", errors="replace"))
        if status.startswith("http_4") and status != "http_429":
            return True  # no robots.txt: no rules
        if status == "tls_error":
            log.info("robots.txt of %s failed TLS: refusing the host's images", host)
            return status
        log.info("robots.txt of %s unavailable (%s): treating host as disallowed", host, status)
        return False
