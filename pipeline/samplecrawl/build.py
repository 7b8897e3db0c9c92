"""Build the sample crawl: a deterministic ``.warc.gz`` of the project's pages and their images.

Layout of the file, like a Common Crawl WARC: a ``warcinfo`` record; then, in a crawl order that
``seed`` shuffles, a request + response per page, each followed by the image fetches its page
needed first (image records live in the same WARC); the non-page oddities mixed in; and one
truncated response last. Images whose ``Asset.spec`` is None are referenced by pages but never
stored, so only an HTTP fetch could get them.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import random
from collections import defaultdict
from datetime import datetime, timezone

from PIL import Image

from pipeline.samplecrawl import photos
from pipeline.samplecrawl.model import Asset, ImageSpec, Page
from pipeline.samplecrawl.oddities import Oddity, oddities
from pipeline.samplecrawl.pages import all_pages
from pipeline.samplecrawl.warcrecords import CrawlWriter

log = logging.getLogger(__name__)
START = datetime(2024, 6, 1, 8, 0, 0, tzinfo=timezone.utc)
RASTER = {"JPEG", "PNG", "WEBP", "GIF"}


def _page_headers(page: Page) -> list[tuple[str, str]]:
    extra = [("Vary", "Accept-Encoding"), ("Content-Language", page.lang)]
    return extra + ([("X-Robots-Tag", page.x_robots_tag)] if page.x_robots_tag else [])


def _stored_images(page: Page, seen: dict[str, Asset]) -> list[Asset]:
    """The page's stored images not fetched yet, in the order the page references them."""
    new = []
    for a in page.assets:
        if a.url in seen:
            if seen[a.url] != a:
                raise ValueError(f"{a.url} is described two ways")
            continue
        seen[a.url] = a
        if a.spec is not None:
            new.append(a)
    return new


def _write_crawl(fh, entries: list[Page | Oddity], broken: list[Page], filename: str,
                 seed: int) -> tuple[dict[str, Asset], dict[str, bytes], dict[str, int]]:
    writer = CrawlWriter(fh, START, filename)
    writer.warcinfo(filename, {
        "software": "flamingo-kit pipeline.samplecrawl", "format": "WARC File Format 1.0",
        "isPartOf": "flamingo-kit-sample-crawl", "operator": "Flamingo Kit (sample data)",
        "description": f"Pages written for the project; photos from scikit-image; seed {seed}",
        "robots": "classic", "http-header-user-agent": "FlamingoKitSampleCrawler/0.1"})
    seen: dict[str, Asset] = {}
    bodies: dict[str, bytes] = {}
    for e in entries:
        if isinstance(e, Oddity):
            extra = [("Location", e.location)] if e.location else []
            writer.fetch(e.url, e.body, e.content_type, e.status, extra)
            continue
        writer.fetch(e.url, e.html.encode(e.charset), f"text/html; charset={e.charset}",
                     extra=_page_headers(e))
        for a in _stored_images(e, seen):
            bodies[a.url] = _render(a.spec)
            extra = [("X-Robots-Tag", a.x_robots_tag)] if a.x_robots_tag else []
            writer.fetch(a.url, bodies[a.url], photos.MIME[a.spec.fmt], extra=extra)
    for page in broken:
        writer.truncated_fetch(page.url, page.html.encode(page.charset),
                               f"text/html; charset={page.charset}")
    return seen, bodies, writer.counts


@functools.lru_cache(maxsize=None)
def _render(spec: ImageSpec) -> bytes:
    # the tracking pixel and share icon specs repeat on many URLs; encode each spec once
    return photos.render(spec)


def build_sample_crawl(out_path: str, *, seed: int = 0) -> dict:
    """Write the sample crawl to ``out_path`` (a ``.warc.gz``) and return its summary.

    The same ``seed`` gives a byte-identical file; the seed only changes the crawl order.
    """
    pages = all_pages()
    broken = [p for p in pages if "truncated" in p.tags]
    good = [p for p in pages if "truncated" not in p.tags]
    entries: list[Page | Oddity] = [*good, *oddities()]
    random.Random(seed).shuffle(entries)
    filename = os.path.basename(out_path)
    tmp = out_path + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(tmp, "wb") as fh:
        seen, bodies, counts = _write_crawl(fh, entries, broken, filename, seed)
    os.replace(tmp, out_path)
    with open(out_path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    order = [e for e in entries if isinstance(e, Page)]
    summary = _summary(order, broken, seen, bodies, counts)
    summary.update(path=out_path, sha256=digest, bytes=os.path.getsize(out_path), seed=seed)
    log.info("sample crawl: %d pages, %d image records, %d bytes -> %s", summary["num_pages"],
             len(summary["image_urls"]), summary["bytes"], out_path)
    return summary


def _summary(pages: list[Page], broken: list[Page], seen: dict[str, Asset],
             bodies: dict[str, bytes], counts: dict[str, int]) -> dict:
    from pipeline.samplecrawl.facts import expected_facts

    raster = sorted(u for u, a in seen.items() if a.spec and a.spec.fmt in RASTER)
    sizes = {u: Image.open(io.BytesIO(bodies[u])).size for u in raster}
    by_role: dict[str, list[str]] = defaultdict(list)
    for u, a in sorted(seen.items()):
        by_role[a.role].append(u)
    by_bytes: dict[str, list[str]] = defaultdict(list)
    for u, b in sorted(bodies.items()):
        by_bytes[hashlib.sha256(b).hexdigest()].append(u)
    return {
        "num_pages": len(pages),
        "page_urls": [p.url for p in pages],
        "layouts": {p.url: p.layout for p in pages},
        "image_urls": raster,
        "svg_urls": sorted(u for u, a in seen.items() if a.spec and a.spec.fmt == "SVG"),
        "http_only_image_urls": sorted(u for u, a in seen.items() if a.spec is None),
        "images_by_role": dict(by_role),
        "image_sizes": {u: list(s) for u, s in sizes.items()},
        "small_image_urls": sorted(u for u, (w, h) in sizes.items() if min(w, h) < 150),
        "wide_image_urls": sorted(u for u, (w, h) in sizes.items() if max(w, h) > 3 * min(w, h)),
        "same_bytes": sorted(g for g in by_bytes.values() if len(g) > 1),
        "truncated_urls": [p.url for p in broken],
        "record_counts": dict(sorted(counts.items())),
        **expected_facts(pages, seen),
    }
