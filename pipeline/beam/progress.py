"""A live progress line for local runs: counts from worker processes, summed by the driver.

Beam's metrics are only readable once a local job ends, and users of long web-scale
jobs want to see that something is moving. Workers (DoFns, in any process) add counts
to a :class:`ProgressSink`, which at most once a second replaces its own small JSON file
under the job's work directory; the driver's :class:`ProgressDisplay` thread sums the
files and prints one line. On remote runners the sink is disabled (root ``None``).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from collections import Counter

SHOWN = ("pages_read", "documents_kept", "images_fetched", "samples_written")


class ProgressSink:
    def __init__(self, root: str | None, every_s: float = 1.0):
        self.root, self.every_s = root, every_s
        self.counts: Counter = Counter()
        self._last = 0.0
        self._name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}.json"

    def add(self, name: str, n: int = 1) -> None:
        if self.root is None:
            return
        self.counts[name] += n
        if time.monotonic() - self._last >= self.every_s:
            self.flush()

    def flush(self) -> None:
        if self.root is None or not self.counts:
            return
        self._last = time.monotonic()
        try:
            os.makedirs(self.root, exist_ok=True)
            path = os.path.join(self.root, self._name)
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.counts, f)
            os.replace(tmp, path)
        except OSError:
            pass  # progress is a convenience; never fail a bundle for it


def read_progress(root: str) -> Counter:
    total: Counter = Counter()
    try:
        names = os.listdir(root)
    except OSError:
        return total
    for name in names:
        if name.endswith(".json"):
            try:
                with open(os.path.join(root, name)) as f:
                    total.update(json.load(f))
            except (OSError, ValueError):
                continue
    return total


class ProgressDisplay(threading.Thread):
    """Prints ``pages 1,234 (56/s) | documents 300 | images 800 | sequences 410 | 00:22``."""

    def __init__(self, root: str, every_s: float = 2.0, stream=None, written: str = "sequences"):
        super().__init__(daemon=True)
        self.root, self.every_s, self.written = root, every_s, written
        self.stream = stream or sys.stderr
        self._done = threading.Event()
        self._start = time.monotonic()

    def line(self) -> str:
        c = read_progress(self.root)
        elapsed = time.monotonic() - self._start
        rate = c["pages_read"] / elapsed if elapsed > 0 else 0.0
        m, s = divmod(int(elapsed), 60)
        parts = [f"pages {c['pages_read']:,} ({rate:.0f}/s)"] if c["pages_read"] else []
        if self.written == "sequences":  # the pairs job keeps no documents
            parts.append(f"documents kept {c['documents_kept']:,}")
        parts += [f"images fetched {c['images_fetched']:,}", f"{self.written} written {c['samples_written']:,}",
                  f"{m:02d}:{s:02d}"]
        return " | ".join(parts)

    def run(self) -> None:
        tty = getattr(self.stream, "isatty", lambda: False)()
        while not self._done.wait(self.every_s if tty else max(self.every_s, 10.0)):
            print(("\r" if tty else "") + self.line(), end="" if tty else "\n", file=self.stream, flush=True)

    def stop(self) -> None:
        self._done.set()
        print(("\r" if getattr(self.stream, "isatty", lambda: False)() else "") + self.line(), file=self.stream)
