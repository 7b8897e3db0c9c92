"""Second and third ways to a page's text, for pages where main-content selection fails.

The page is parsed afresh for the fallback (the first pass changed its tree). Two things
the first pass cannot see come into reach here:

- client-side templates: ``<script type="text/template">`` holding the article's markup,
  which a script renders in the browser (Blogger's dynamic views, some single-page apps);
  the fallback parses them in place of the script;
- schema.org markup: a JSON-LD ``Article`` (or ``NewsArticle``, ``BlogPosting``, ...) whose
  ``articleBody`` holds the text when the page's markup does not.

All input is bounded: template and JSON-LD texts are capped before parsing.
"""

from __future__ import annotations

import json
import re

from lxml import etree

from pipeline.extract.dom import HtmlElement, text_of

_TEMPLATE_TYPES = frozenset({"text/template", "text/x-template", "text/html"})
_MAX_SCRIPT_CHARS = 2_000_000  # a script bigger than this is data, not an article
_MIN_TEMPLATE_CHARS = 200
_PARAGRAPHS = re.compile(r"\s*\n\s*\n\s*|\s*\n\s*")
_TAG = re.compile(r"<[a-zA-Z/!]")
_BLOCK_TAG = re.compile(
    r"<(?:/?(?:p|div|h[1-6]|li|blockquote|section)\b[^>]*|br\s*/?)>", re.IGNORECASE
)


def graft_templates(root: HtmlElement) -> int:
    """Replace each HTML template script under ``root`` by the elements it holds; returns
    how many were grafted. Call before ``clean_tree`` (which drops scripts)."""
    grafted = 0
    for script in list(root.iter("script")):
        kind = (script.get("type") or "").strip().lower()
        body = script.text or ""
        if kind not in _TEMPLATE_TYPES or not _MIN_TEMPLATE_CHARS <= len(body) <= _MAX_SCRIPT_CHARS:
            continue
        fragment = etree.fromstring(f"<div>{body}</div>", etree.HTMLParser(no_network=True))
        holder = fragment.find(".//div") if fragment is not None else None
        parent = script.getparent()
        if holder is None or parent is None:
            continue
        holder.tail = script.tail
        parent.replace(script, holder)
        grafted += 1
    return grafted


def _bodies(data) -> list[str]:
    """Every ``articleBody`` string in a parsed JSON-LD value (objects, lists, @graph)."""
    out, stack = [], [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            body = item.get("articleBody")
            if isinstance(body, str):
                out.append(body)
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(item)
    return out


def schema_article_body(scripts: tuple[str, ...]) -> list[str]:
    """The paragraphs of the longest JSON-LD ``articleBody`` among ``scripts`` (the texts of
    the page's ``application/ld+json`` scripts); [] when there is none."""
    best = ""
    for raw in scripts:
        if len(raw) > _MAX_SCRIPT_CHARS or "articleBody" not in raw:
            continue
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        for body in _bodies(data):
            if len(body) > len(best):
                best = body
    if _TAG.search(best):  # some sites put the body's HTML in the field
        marked = _BLOCK_TAG.sub("\n\n", best)
        tree = etree.fromstring(f"<div>{marked}</div>", etree.HTMLParser(no_network=True))
        best = text_of(tree) if tree is not None else ""
    return [p for p in (" ".join(p.split()) for p in _PARAGRAPHS.split(best)) if p]
