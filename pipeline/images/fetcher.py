"""The image fetcher: one status per URL, crawl bytes first, then safe HTTP.

Create one per worker (Beam ``DoFn.setup``) and reuse it: it owns the
keep-alive pool, the DNS and robots.txt caches, per-host politeness state and
the thread pool. A URL repeated within one ``fetch_many`` call is fetched once.

What we took from img2dataset and what we replaced: its model (a thread pool
per worker process, one status per sample, resize modes and size/aspect
filters, X-Robots-Tag reading) is kept; its code is not imported. Its
downloader is ``urllib.urlopen`` with a per-read timeout and no address
checks, body cap or redirect control, which is the SSRF and slow-loris
surface this module exists to close; its resizer decodes full-size with cv2
(and importing img2dataset costs ~2.5 s of cv2/albumentations/pyarrow).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from itertools import chain, zip_longest
from urllib.parse import urldefrag, urlsplit

from pipeline.images.body import opt_out_directive
from pipeline.images.config import ImageConfig
from pipeline.images.http import SafeHttpClient
from pipeline.images.netsafety import AddressChecker, Resolver
from pipeline.images.process import process_image
from pipeline.images.records import ImageRequest, ImageResult
from pipeline.images.robots import ROBOTS_MAX_BYTES, RobotsCache

log = logging.getLogger(__name__)


class ImageFetcher:
    """Fetch, check and process images. Thread-safe; call ``close`` when done."""

    def __init__(
        self,
        config: ImageConfig,
        crawl_images: Mapping[str, bytes] | None = None,
        *,
        resolver: Resolver | None = None,
    ) -> None:
        self.config = config
        self.crawl_images = crawl_images or {}
        checker = AddressChecker(
            allow_private=config.allow_private_networks,
            allowed_networks=config.allowed_networks,
            resolver=resolver,
            ttl_s=config.dns_cache_ttl_s,
        )
        self.http = SafeHttpClient(config, checker)
        if config.respect_robots:
            self.robots = RobotsCache(self._fetch_robots, config.agent_token)
            self.http.robots_check = self.robots.refusal
        self._pool = ThreadPoolExecutor(config.threads, thread_name_prefix="image-fetch")
        self._stats: Counter[str] = Counter()
        self._lock = threading.Lock()

    def fetch(self, request: ImageRequest) -> ImageResult:
        """One request, on the calling thread."""
        try:
            result = self._fetch_one(request)
        except Exception as err:  # noqa: BLE001 -- one status per URL, even for a bug of ours
            log.exception("image fetch failed unexpectedly: %s", request.url)
            result = ImageResult(url=request.url, status="internal_error", error=repr(err))
        with self._lock:
            self._stats[result.status] += 1
            if result.source:
                self._stats[f"source_{result.source}"] += 1
        return result

    def fetch_many(self, requests: Iterable[ImageRequest]) -> list[ImageResult]:
        """All requests concurrently; results in input order, one per request."""
        requests = list(requests)
        first: dict[str, int] = {}  # URL -> index of the request that will fetch it
        for i, request in enumerate(requests):
            first.setdefault(_key(request), i)
        unique = [requests[i] for i in first.values()]
        futures = {_key(r): self._pool.submit(self.fetch, r) for r in _interleave_hosts(unique)}
        by_url = {url: future.result() for url, future in futures.items()}
        return [_for_request(by_url[_key(r)], r) for r in requests]

    def stats(self) -> dict[str, int]:
        """Counts by status ("ok", reasons), by source ("source_crawl", "source_http") and "http_requests"."""
        with self._lock:
            stats = dict(self._stats)
        stats["http_requests"] = sum(self.http.requests.values())
        return stats

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.http.close()

    def __enter__(self) -> ImageFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fetch_one(self, request: ImageRequest) -> ImageResult:
        opted_out = request.page_opt_out & self.config.disallowed_directives
        if opted_out:
            return ImageResult(
                url=request.url, status="noai", error=f"page opt-out: {min(opted_out)}"
            )
        crawled = request.crawl_data
        if crawled is None:
            crawled = self.crawl_images.get(request.url) or self.crawl_images.get(_key(request))
        if crawled is not None:
            cfg = self.config
            directive = opt_out_directive(request.crawl_robots, cfg.agent_token, cfg.disallowed_directives)
            if directive:
                return ImageResult(url=request.url, status="noai", source="crawl",
                                   error=f"X-Robots-Tag: {directive} (crawl record)")
            with _CPU:
                result = process_image(crawled, cfg, url=request.url)
            return _with(result, source="crawl")
        outcome = self.http.get(request.url, request.referer)
        if outcome.status != "ok":
            return ImageResult(
                url=request.url, status=outcome.status, source="http", error=outcome.error
            )
        with _CPU:
            result = process_image(outcome.data, self.config, url=request.url)
        return _with(result, source="http")

    def _fetch_robots(self, url: str) -> tuple[str, bytes]:
        outcome = self.http.get(url, image=False, max_bytes=ROBOTS_MAX_BYTES)
        return outcome.status, outcome.data


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class Slots:
    """At most ``n`` holders at a time (``with slots:``), like ``threading.BoundedSemaphore``.

    A queue of ``n`` tokens: taking and returning one is a single C-level lock operation, where
    the pure-Python semaphore's Condition takes and releases several Python locks and allocates
    one per waiter. With 16 fetch threads queueing for 2 cores that was ~5 of the ~10 thread
    switches per image and 0.1-0.4 ms of CPU per image (bench/README.md, "Images"). Waiters are
    woken in no particular order, which only reorders CPU work that has no deadline.
    """

    def __init__(self, n: int) -> None:
        self._tokens: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(n):
            self._tokens.put(None)

    def __enter__(self) -> None:
        self._tokens.get()

    def __exit__(self, *exc: object) -> None:
        self._tokens.put(None)


# Fetch threads are many so that network waits overlap; decoding and resizing are CPU work, done
# by at most one thread per core at a time in this process, whatever the number of fetchers (a
# Beam worker runs several DoFn instances, each with its own): more only contend for the cores.
_CPU = Slots(_cores())


def _key(request: ImageRequest) -> str:
    return urldefrag(request.url.strip())[0]


def _with(result: ImageResult, *, source: str) -> ImageResult:
    result.source = source
    return result


def _for_request(result: ImageResult, request: ImageRequest) -> ImageResult:
    """The shared result of a repeated URL, under this request's own URL spelling."""
    if result.url == request.url:
        return result
    copy = ImageResult(**vars(result))
    copy.url = request.url
    return copy


def _interleave_hosts(requests: list[ImageRequest]) -> list[ImageRequest]:
    """Round-robin over hosts, so workers spread over hosts instead of queueing on one."""
    by_host: dict[str, list[ImageRequest]] = defaultdict(list)
    for request in requests:
        try:
            host = urlsplit(request.url).hostname or ""
        except ValueError:
            host = ""
        by_host[host].append(request)
    rounds = zip_longest(*by_host.values())
    return [r for r in chain.from_iterable(rounds) if r is not None]
