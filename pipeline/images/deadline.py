"""Total deadlines for blocking socket work.

A socket timeout bounds each read, not the request: a server that drips one
byte every 0.4 s never trips a 1 s read timeout yet holds a worker forever.
One watchdog thread per fetcher keeps a heap of deadlines and shuts down the
socket of any request that outlives its own, which wakes the blocked reader
with an error wherever it is (headers, body, TLS handshake).
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time


class Watchdog:
    """Shut down registered sockets at their deadline. Thread-safe; one daemon thread."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._live: dict[int, socket.socket] = {}
        self._ids = itertools.count()
        self._cv = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="image-fetch-watchdog", daemon=True)
        self._thread.start()

    def arm(self, sock: socket.socket, deadline: float) -> int:
        """Watch ``sock`` until ``deadline`` (time.monotonic); returns a token for ``disarm``."""
        with self._cv:
            token = next(self._ids)
            self._live[token] = sock
            # The watchdog sleeps until the earliest deadline in the heap; it needs waking only
            # when this one comes first. With one timeout for every request that is almost never:
            # a wake per request cost a thread switch (and a GIL hand-off) per image.
            if not self._heap or deadline < self._heap[0][0]:
                self._cv.notify()
            heapq.heappush(self._heap, (deadline, token))
        return token

    def disarm(self, token: int) -> None:
        with self._cv:
            self._live.pop(token, None)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        with self._cv:
            while not self._closed:
                now = time.monotonic()
                while self._heap and (
                    self._heap[0][0] <= now or self._heap[0][1] not in self._live
                ):
                    _, token = heapq.heappop(self._heap)
                    sock = self._live.pop(token, None)
                    if sock is not None:
                        _shutdown(sock)
                wait = self._heap[0][0] - now if self._heap else None
                self._cv.wait(timeout=wait)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by its owner: nothing left to interrupt
