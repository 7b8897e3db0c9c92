"""Images as they stand in an article: which URL to take and which to drop.

An ``<img>`` carries its real URL in many places: ``src``, ``srcset`` (take the
largest candidate), lazy-load attributes that a script would copy into
``src`` (``data-src``, ``data-lazy-src``, ``data-original``, ``data-srcset``,
...), or a surrounding ``<picture>``'s ``<source srcset>``. Decorative images
(tracking pixels, spacers, icons, logos, avatars, emoji, ``data:`` URIs,
SVG) are dropped with a snake_case reason so the job can count them.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urljoin, urlsplit

from pipeline.document import ImageNode
from pipeline.extract.dom import HtmlElement

_LAZY_SRCSET_ATTRS = ("data-srcset", "data-lazy-srcset", "data-original-set")
_LAZY_SRC_ATTRS = (
    "data-src", "data-lazy-src", "data-original", "data-lazy", "data-url",
    "data-hi-res-src", "data-full-src", "data-large-src", "data-echo", "data-img-src",
)
# srcset: a URL (no whitespace) then descriptors up to the next comma.
_SRCSET_ITEM = re.compile(r"\s*(\S+?)(?:,\s*|\s+([^,]*)(?:,|$)|$)")
_TOKEN_SPLIT = re.compile(r"[^a-z0-9]+")
# Tokens in class/id/URL host and path (not alt: "a logo on a building" is a photo) that mark an image as decoration; first match wins.
_DECORATIVE_TOKENS: tuple[tuple[str, frozenset[str]], ...] = (
    ("tracking_pixel", frozenset({"pixel", "beacon", "tracker", "1x1"})),
    ("ad", frozenset({"adserver", "ads", "advert", "adverts", "advertisement", "doubleclick",
                     "adsystem", "adimage", "banner", "banners", "sponsored", "cta"})),
    ("spacer", frozenset({"spacer", "blank", "transparent"})),
    ("emoji", frozenset({"emoji", "emoticon", "smiley"})),
    ("avatar", frozenset({"avatar", "avatars", "gravatar", "headshot"})),
    ("logo", frozenset({"logo", "logos", "wordmark"})),
    ("icon", frozenset({"icon", "icons", "favicon", "sprite", "badge", "btn"})),
)
_MIN_DECLARED_SIDE = 48  # declared smaller than this on either side: an icon or a pixel


def parse_srcset(srcset: str) -> str | None:
    """The largest candidate URL of a srcset ('u1 480w, u2 800w' or '1x, 2x')."""
    best, best_size = None, -1.0
    for m in _SRCSET_ITEM.finditer(srcset or ""):
        url, desc = m.group(1).rstrip(","), (m.group(2) or "").strip().lower()
        if not url:
            continue
        size = 1.0
        if desc[-1:] in ("w", "x"):
            try:
                size = float(desc[:-1])
            except ValueError:
                pass
        if size > best_size:
            best, best_size = url, size
    return best


def parse_dimension(value: str | None) -> int | None:
    """A declared width/height in pixels ('300', '300px'); None for '100%', 'auto', junk."""
    if not value:
        return None
    m = re.match(r"\s*(\d{1,5})(?:\.\d+)?\s*(px)?\s*$", value)
    return int(m.group(1)) if m else None


def _source_srcsets(img: HtmlElement) -> list[str]:
    # libxml2's HTML4 parser does not know <source> is void and nests the <img> inside it.
    picture = next((a for _, a in zip(range(3), img.iterancestors()) if a.tag == "picture"), None)
    if picture is None:
        return []
    out = []
    for src in picture.iter("source"):
        for attr in ("srcset", *_LAZY_SRCSET_ATTRS):
            if src.get(attr):
                out.append(src.get(attr))
    return out


def raw_image_url(img: HtmlElement) -> str | None:
    """The best URL the markup offers, unresolved: srcset, lazy attributes, then src."""
    for srcset in (*[img.get(a) for a in _LAZY_SRCSET_ATTRS], img.get("srcset"), *_source_srcsets(img)):
        url = parse_srcset(srcset) if srcset else None
        if url and not url.startswith("data:"):
            return url
    for attr in (*_LAZY_SRC_ATTRS, "src"):
        url = (img.get(attr) or "").strip()
        if url and not url.startswith("data:"):
            return url
    return "data:" if (img.get("src") or "").strip().startswith("data:") else None


def _decorative_reason(
    img: HtmlElement, parts: SplitResult, w: int | None, h: int | None
) -> str | None:
    if (w is not None and w <= 2) or (h is not None and h <= 2):
        return "tracking_pixel"
    path = parts.path.lower()
    if path.endswith((".svg", ".svgz")):
        return "svg"
    hint = " ".join((img.get("class") or "", img.get("id") or "", parts.netloc, path)).lower()
    tokens = set(_TOKEN_SPLIT.split(hint))
    for reason, words in _DECORATIVE_TOKENS:
        if tokens & words:
            return reason
    if (w is not None and w < _MIN_DECLARED_SIDE) or (h is not None and h < _MIN_DECLARED_SIDE):
        return "icon"
    return None


def image_node(img: HtmlElement, base_url: str) -> tuple[ImageNode | None, str | None]:
    """An ImageNode for an ``<img>``, or (None, drop reason)."""
    raw = raw_image_url(img)
    if raw is None:
        return None, "no_src"
    if raw.startswith("data:"):
        return None, "data_uri"
    try:
        # urljoin leaves an absolute http(s) URL as it is, at ~10 us a call: skip it then.
        url = raw if raw.startswith(("https://", "http://")) else urljoin(base_url, raw)
        parts = urlsplit(url)
    except ValueError:
        return None, "bad_url"
    if parts.scheme not in ("http", "https"):
        return None, "bad_scheme"
    w, h = parse_dimension(img.get("width")), parse_dimension(img.get("height"))
    reason = _decorative_reason(img, parts, w, h)
    if reason:
        return None, reason
    alt = " ".join((img.get("alt") or "").split())
    return ImageNode(url=url, alt=alt, width=w, height=h), None
