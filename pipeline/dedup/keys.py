"""What "the same page" means: URL and text normalisation, stable hashes, and which copy stays.

Pure functions, no Beam. Everything is deterministic across processes and machines (no
Python ``hash()``, no ``repr`` of sets), because the Beam job relies on equal inputs giving
equal keys, and the same copy being kept, on every worker, every retry and every
``PYTHONHASHSEED``. Elements are documents used by duck typing (``.url``, ``.text``,
``.to_json()``).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# Query parameters that identify a click or a campaign, never the page.
TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid",
     "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref_src"}
)  # fmt: skip
TRACKING_PREFIXES = ("utm_",)



def normalize_url(url: str) -> str:
    """A canonical form under which URLs that serve the same page compare equal.

    Choices: scheme and host lower-cased; http folded into https and a leading
    ``www.`` dropped (on the web both almost always serve the same page, and a
    crawl captures both); userinfo, default ports and the fragment dropped;
    tracking parameters (utm_*, fbclid, gclid, ...) removed and the remaining
    query parameters sorted; trailing slashes of the path removed ("/a/" == "/a",
    "" == "/"). The path's case and percent-escapes are kept: servers may treat
    them as different pages.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    host = host.removeprefix("www.")
    if ":" in host:  # IPv6 literal: urlsplit removed the brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # out-of-range port: keep the URL recognisable rather than fail
        port = None
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    if scheme == "http":
        scheme = "https"
    path = parts.path.rstrip("/") or "/"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    )
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def stable_hash(data: str) -> str:
    """128-bit hex digest: collision-free in practice for billions of documents."""
    return hashlib.blake2b(data.encode("utf-8"), digest_size=16).hexdigest()


def doc_id(url: str) -> str:
    """A document's id: the hash of its normalised URL (unique after URL dedup)."""
    return stable_hash(normalize_url(url))


_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFKC, lower case, whitespace runs collapsed: what "the same text" means for exact dedup."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def text_hash(text: str) -> str:
    return stable_hash(normalize_text(text))


def content_hash(doc: Any) -> str:
    """A hash of everything a document holds: the last tie-break between two copies."""
    return stable_hash(json.dumps(doc.to_json(), sort_keys=True, ensure_ascii=False))


def url_key(doc: Any) -> str:
    return stable_hash(normalize_url(doc.url))


def text_key(doc: Any) -> str:
    return text_hash(doc.text)


def url_rank(doc: Any) -> tuple:
    """Among captures of the same URL keep the longest text; ties by URL, then content."""
    return (-len(doc.text), doc.url, text_hash(doc.text), content_hash(doc))


def text_rank(doc: Any) -> tuple:
    """Among pages with the same text keep the smallest normalised URL (then content)."""
    return (normalize_url(doc.url), doc.url, content_hash(doc))


def near_id(doc: Any) -> str:
    """Identity for the near-dup join: distinct whenever URL or text differ, even if the
    URL or exact-text stages were turned off."""
    return stable_hash(normalize_url(doc.url) + "\n" + text_hash(doc.text))
