"""A content-addressed blob store for image bytes between job stages.

Image bytes never pass through a Beam shuffle: the stage that reads or fetches an image
writes it here under a name derived from its content (sha256 of the bytes), and only the
name travels with the documents; the shard writer reads the bytes back. Equal names mean
equal bytes, so writes are idempotent (Beam retries, two captures of one image, two workers
racing are all harmless) and need no existence check on an object store, where a HEAD
request costs as much as the PUT. Local writes are atomic (temporary name, then rename);
object stores publish an object only once its upload completes.

Reads and writes are concurrent: :class:`BlobWriter` uploads on a small thread pool and
:meth:`BlobWriter.flush` waits for all of them (DoFns call it in ``finish_bundle``, before
the bundle's outputs, which name the blobs, are committed); :class:`BlobReader` reads ahead a
bounded window in the order the bytes will be used.
"""

from __future__ import annotations

import os
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from pipeline.beam import files

THREADS = 10  # boto3 keeps 10 connections per client (Beam does not expose the setting)
WINDOW = 32  # blobs in flight per reader or writer: bounds the bytes held in memory


def blob_path(root: str, name: str) -> str:
    return f"{root.rstrip('/')}/{name[:2]}/{name}"


def put_blob(root: str, name: str, data: bytes) -> str:
    path = blob_path(root, name)
    if files.is_remote(root):
        files.write_bytes(path, data)
        return path
    path = files.local_path(path)
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


def get_blob(root: str, name: str) -> bytes:
    return files.read_bytes(blob_path(root, name))


class BlobWriter:
    """Concurrent puts; :meth:`flush` waits for every one (and raises the first failure)."""

    def __init__(self, root: str, threads: int = THREADS):
        self.root = root
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="blob-put")
        self._pending: deque[Future] = deque()

    def put(self, name: str, data: bytes) -> None:
        while len(self._pending) >= WINDOW:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(put_blob, self.root, name, data))

    def flush(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        self.flush()
        self._pool.shutdown(wait=True)


class BlobReader:
    """Concurrent gets, read ahead in the order they will be asked for."""

    def __init__(self, root: str, threads: int = THREADS):
        self.root = root
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="blob-get")

    def prefetch(self, names: Iterable[str]) -> Callable[[str], bytes]:
        """Blob names -> a ``load(name)`` that returns their bytes when called for them in the
        same order, with at most ``WINDOW`` read ahead."""
        upcoming = iter(names)
        window: deque[tuple[str, Future]] = deque()

        def load(name: str) -> bytes:
            while len(window) < WINDOW:
                nxt = next(upcoming, None)
                if nxt is None:
                    break
                window.append((nxt, self._pool.submit(get_blob, self.root, nxt)))
            if not window or window[0][0] != name:  # asked out of order: read it directly
                return get_blob(self.root, name)
            return window.popleft()[1].result()

        return load

    def close(self) -> None:
        self._pool.shutdown(wait=True)
