"""Facts about the sample crawl that tests of the corpus job can assert against: which pages are
not English, which opt out of AI use, which pairs are (near-)duplicates, which images repeat
across many pages, and what the non-page records are.
"""

from __future__ import annotations

from collections import Counter

from pipeline.samplecrawl.model import Asset, Page
from pipeline.samplecrawl.oddities import oddities

# how each kind of duplicate should be caught
DUPLICATE_KINDS = {
    "url_variant": "same page under a tracking query string: URL dedup after normalisation",
    "print_copy": "same main text on another URL: exact text dedup",
    "syndicated": "same article on another site plus one sentence: MinHash near-dup",
    "variant": "product variant whose description differs by one sentence: MinHash near-dup",
}


def _noai(page: Page) -> str:
    if page.x_robots_tag:
        return "x-robots-tag"
    return "meta" if 'name="robots" content="noai' in page.html else ""


def expected_facts(pages: list[Page], seen: dict[str, Asset]) -> dict:
    uses = Counter(a.url for p in pages for a in {x.url: x for x in p.assets}.values())
    dups = [{"kind": kind, "urls": [p.duplicate_of, p.url], "how": DUPLICATE_KINDS[kind]}
            for p in pages if p.duplicate_of for kind in p.tags if kind in DUPLICATE_KINDS]
    odd = oddities()
    return {
        "non_english": {p.url: p.lang for p in pages if p.lang != "en"},
        "non_utf8": {p.url: p.charset for p in pages if p.charset != "utf-8"},
        "noai_pages": {p.url: _noai(p) for p in pages if _noai(p)},
        "noai_image_urls": sorted(u for u, a in seen.items() if a.x_robots_tag),
        "near_duplicates": sorted(dups, key=lambda d: d["urls"]),
        # stored images on 3+ pages: what a repeated-image rule should drop
        "repeated_image_urls": {u: n for u, n in sorted(uses.items())
                                if n >= 3 and seen[u].spec is not None},
        "non_200": {o.url: o.status for o in odd if o.status != 200},
        "redirects": {o.url: o.location for o in odd if o.location},
        "non_html": {o.url: o.content_type for o in odd if "html" not in o.content_type},
    }
