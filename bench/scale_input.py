"""Input for `bench/scale.py`: a synthetic crawl of N pages built to hit every hot spot at once.

Pages are copies of the 181 real pages in ``../shared/data/article-extraction`` (as
`bench/corpus_input.py` makes them: own URL, 20% of words swapped, so copies are distinct),
with adversarial structure on top:

* every page shows the same logo (one URL, ``https://static.bench.example/logo.jpg``, stored in
  the crawl) inside its article, and ends its article with the same boilerplate paragraph;
* 30% of pages are near-duplicates of one syndicated story (1% of words swapped: MinHash
  Jaccard near 0.95), so their LSH buckets are one hot bucket per band;
* one host serves half of all images: image ``i`` is fetched over HTTP from the bench's
  loopback server (``http://127.0.0.1:PORT/img/i.jpg``) when ``i`` is even, and is a record of
  the crawl, on one of 37 other hosts, when odd.

``images = pages // 2`` distinct JPEGs (crops of scikit-image photos, longest side 320-800
px), ``files = max(2, pages // 500)`` WARC.gz files. Built once per spec under
``bench/.cache/`` (git-ignored).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import re
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import corpus_input as ci

# The image every page shows (a "logo": named neutrally, since extraction drops images called logos).
LOGO_URL = "https://static.bench.example/brand/masthead.jpg"
FOOTER = ("<p>Example Media Group. All rights reserved. Reproduction of this article in whole or in part "
          "without written permission is prohibited. Subscribe to our newsletter for the latest stories, "
          "follow us on social media, and read our privacy policy and terms of use.</p>")
NEAR_DUP_TEMPLATE = 1  # a long English story that passes the text filters (the first page does not)
_IMAGE = re.compile(re.escape(ci.IMAGE_HOST) + r"/(\d+)\.jpg")
BUILD_VERSION = 1


@dataclass(frozen=True)
class ScaleSpec:
    pages: int = 5000
    port: int = 18765  # the loopback image server's port, written into the pages
    seed: int = 0
    near_dup_frac: float = 0.3

    @property
    def images(self) -> int:
        return max(2, self.pages // 2)

    @property
    def files(self) -> int:
        return max(2, self.pages // 500)

    def key(self) -> str:
        import hashlib

        blob = json.dumps({**asdict(self), "v": BUILD_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def image_location(index: int, port: int) -> str:
    """Even images from the one busy host (network), odd ones in the crawl on 37 other hosts."""
    if index % 2 == 0:
        return f"http://127.0.0.1:{port}/img/{index}.jpg"
    return f"https://img{index % 37}.bench.example/photo/{index}.jpg"


def is_near_dup(n: int, spec: ScaleSpec) -> bool:
    return random.Random(f"near:{spec.seed}:{n}").random() < spec.near_dup_frac


def render_page(n: int, spec: ScaleSpec, templates) -> tuple[str, bytes]:
    """(URL, HTML) of page ``n``."""
    base = ci.InputSpec(pages=spec.pages, images=spec.images, seed=spec.seed)
    if is_near_dup(n, spec):  # a near-copy of one syndicated story
        t = templates[NEAR_DUP_TEMPLATE]
        html = ci.render_copy(t, n, ci.InputSpec(pages=spec.pages, images=spec.images, seed=spec.seed,
                                                 replace_frac=0.01)).decode("utf-8")
        url = f"https://syndication-{n % 97}.bench.example/story/{n}"
    else:
        t = templates[n % len(templates)]
        html = ci.render_copy(t, n, base).decode("utf-8")
        url = ci.copy_url(t.url, n)
    html = _IMAGE.sub(lambda m: image_location(int(m.group(1)), spec.port), html)
    logo = f'<img src="{LOGO_URL}" alt="Photograph of the Example Media newsroom" width="600" height="400">'
    html = _place(html, logo)
    end = "</article>" if "</article>" in html.lower() else "</body>"
    i = html.lower().rfind(end)
    html = html[:i] + FOOTER + html[i:] if i >= 0 else html + FOOTER
    return url, html.encode("utf-8")


def _place(html: str, logo: str) -> str:
    """Put the shared image where extraction keeps images: after the page's longest paragraph
    (surely main content)."""
    best, end = -1, -1
    for m in re.finditer(r"<p[\s>].*?</p>", html, flags=re.IGNORECASE | re.DOTALL):
        if m.end() - m.start() > best:
            best, end = m.end() - m.start(), m.end()
    return html[:end] + logo + html[end:] if end >= 0 else html


_TEMPLATES: list = []


def _write_file(args) -> str:
    from pipeline.samplecrawl.warcrecords import CrawlWriter

    file_index, path, spec = args
    name = os.path.basename(path)
    with open(path, "wb") as fh:
        writer = CrawlWriter(fh, datetime(2024, 6, 1, tzinfo=timezone.utc), name)
        writer.warcinfo(name, {"software": "flamingo-kit bench/scale_input.py", "description": str(spec)})
        if file_index == 0:
            writer.fetch(LOGO_URL, ci.render_image(10**6, spec.seed), "image/jpeg")
        for n in range(file_index, spec.pages, spec.files):
            url, html = render_page(n, spec, _TEMPLATES)
            writer.fetch(url, html, "text/html; charset=utf-8")
        for i in range(1 + 2 * file_index, spec.images, 2 * spec.files):  # odd images: in the crawl
            writer.fetch(image_location(i, spec.port), ci.render_image(i, spec.seed), "image/jpeg")
    return path


def build(data_dir: Path, spec: ScaleSpec, cache_root: Path, workers: int = 2) -> list[str]:
    """The crawl's ``.warc.gz`` paths, built once per spec."""
    out = cache_root / f"scale-{spec.key()}"
    done = out / "DONE.json"
    if done.exists():
        return [str(out / n) for n in json.loads(done.read_text())["files"]]
    global _TEMPLATES
    _TEMPLATES = ci.load_templates(data_dir)
    tmp = cache_root / f".tmp-scale-{spec.key()}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    jobs = [(i, str(tmp / f"scale-{i:03d}.warc.gz"), spec) for i in range(spec.files)]
    with mp.get_context("fork").Pool(workers) as pool:
        paths = pool.map(_write_file, jobs, chunksize=1)
    names = [os.path.basename(p) for p in paths]
    (tmp / "DONE.json").write_text(json.dumps({"spec": asdict(spec), "files": names}, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return [str(out / n) for n in names]
