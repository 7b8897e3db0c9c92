"""Per-host politeness: a concurrency cap, a request rate, and pauses a host asks for.

Each host gets a semaphore (at most ``per_host_concurrency`` requests in
flight) and a next-start time that spaces requests ``1/rate`` apart and that a
``Retry-After`` answer pushes back, so one 429 slows every worker talking to
that host, not only the one that got it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime


class HostGate:
    """Admission control per host key. Thread-safe."""

    def __init__(self, concurrency: int, rate: float) -> None:
        self.concurrency = concurrency
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Hold one of the host's slots, started no earlier than the host's rate allows.

        Waiting is unbounded on purpose: slot holders are bounded by their own
        deadlines and pauses by ``max_retry_after_s``, so the wait is too.
        """
        with self._lock:
            sem = self._slots.setdefault(host, threading.BoundedSemaphore(self.concurrency))
        sem.acquire()
        try:
            self._wait_turn(host)
            yield
        finally:
            sem.release()

    def pause(self, host: str, seconds: float) -> None:
        """The host asked for a break (Retry-After): nobody starts there before it ends."""
        with self._lock:
            until = time.monotonic() + seconds
            self._next_start[host] = max(self._next_start.get(host, 0.0), until)

    def _wait_turn(self, host: str) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start.get(host, 0.0))
            self._next_start[host] = start + self.interval
        if start > now:
            time.sleep(start - now)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with equal jitter (attempt 0 is the first retry).

    Half fixed, half random: retries from many workers spread out, yet none
    comes back immediately.
    """
    delay = min(cap, base * (2**attempt))
    return delay / 2 + random.uniform(0.0, delay / 2)
