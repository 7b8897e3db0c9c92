"""Page metadata: title, declared language, canonical URL, base URL, opt-outs.

Read from ``<head>`` (and ``<html lang>``) of the parsed tree before any
cleaning. Opt-out signals come from ``<meta name="robots">`` and from
crawler-specific robots metas (``<meta name="CCBot">`` ...); the job decides
what to do with them, extraction only surfaces them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

from pipeline.document import OPT_OUT_SIGNALS
from pipeline.extract.dom import HtmlElement, text_of

# Robots meta names we honour besides "robots": common AI/dataset crawlers and our own.
DEFAULT_ROBOTS_NAMES = frozenset({"robots", "ccbot", "gptbot", "googlebot", "flamingobot"})
_LANG = re.compile(r"^[a-zA-Z]{2,3}(?:[-_][a-zA-Z0-9]{1,8})*$")


@dataclass
class PageMeta:
    title: str = ""
    lang: str | None = None
    canonical_url: str | None = None
    base_url: str = ""
    opt_out: frozenset[str] = frozenset()
    ld_json: tuple[str, ...] = ()  # texts of the JSON-LD scripts, parsed only if needed


def _clean_lang(value: str | None) -> str | None:
    """First tag of a declared language ('en-US' -> 'en-us'); None when not a language tag."""
    if not value:
        return None
    first = value.split(",")[0].strip()
    return first.lower().replace("_", "-") if _LANG.match(first) else None


def _robots_tokens(content: str) -> set[str]:
    tokens = {t.strip().lower() for t in re.split(r"[,\s]+", content) if t.strip()}
    if "none" in tokens:  # "none" means noindex, nofollow
        tokens.add("noindex")
    return tokens & OPT_OUT_SIGNALS


def _safe_join(base: str, href: str) -> str | None:
    try:
        return urljoin(base, href.strip())
    except ValueError:
        return None


def page_meta(root: HtmlElement, url: str, robots_names: frozenset[str] = DEFAULT_ROBOTS_NAMES) -> PageMeta:
    """Metadata of a parsed page whose address is ``url``."""
    meta = PageMeta(base_url=url, lang=_clean_lang(root.get("lang") or root.get("xml:lang")))
    opt_out: set[str] = set()
    ld_json: list[str] = []
    for el in root.iter("title", "meta", "link", "base", "script"):  # one scan of the tree
        tag = el.tag
        if tag == "script":
            if (el.get("type") or "").strip().lower() == "application/ld+json" and el.text:
                ld_json.append(el.text)
        elif tag == "title" and not meta.title:
            meta.title = " ".join((text_of(el) or "").split())
        elif tag == "base" and el.get("href") and meta.base_url == url:
            meta.base_url = _safe_join(url, el.get("href")) or url
        elif tag == "link" and "canonical" in (el.get("rel") or "").lower().split():
            if el.get("href") and meta.canonical_url is None:
                meta.canonical_url = _safe_join(url, el.get("href"))
        elif tag == "meta":
            name = (el.get("name") or "").strip().lower()
            equiv = (el.get("http-equiv") or "").strip().lower()
            content = el.get("content") or ""
            if name in robots_names:
                opt_out |= _robots_tokens(content)
            elif equiv == "content-language" and meta.lang is None:
                meta.lang = _clean_lang(content)
    meta.opt_out = frozenset(opt_out)
    meta.ld_json = tuple(ld_json)
    return meta
