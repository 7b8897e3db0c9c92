"""Parse HTML with lxml and strip what a reader never sees.

lxml (libxml2) is the hot path: it parses real pages ~30x faster than
building a BeautifulSoup tree, recovers from unclosed tags, and bounds
nesting depth itself (without ``huge_tree`` libxml2 stops at depth 256
and reports it, which we surface as ``too_deep`` instead of recursing).
All walks over the tree here are iterative for the same reason.
"""

from __future__ import annotations

import re

from lxml import etree

# Plain etree elements, not lxml.html's: its per-element class lookup costs ~7% of extraction
# and we use none of its helpers.
HtmlElement = etree._Element
text_of = etree.XPath("string()")

# Never content: code, styling, embedded documents, form controls.
DROP_TAGS = (
    "script", "style", "template", "svg", "math", "iframe", "frame", "frameset", "object",
    "embed", "applet", "canvas", "select", "textarea", "input", "button", "option", "map",
    "dialog", "audio", "video", "link", "meta", "head",
    "rt", "rp",  # ruby annotations: pronunciation over the base text, read as a second copy
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


class ParseError(ValueError):
    """The page could not be parsed; ``reason`` is a snake_case drop reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_html(text: str | bytes) -> HtmlElement:
    """An lxml tree of ``text`` (str, or bytes known to be UTF-8); raises ParseError
    ('too_deep' | 'unparseable' | 'empty_document')."""
    parser = etree.HTMLParser(
        encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True, huge_tree=False,
        collect_ids=False,  # no lookups by id: skipping the id table saves ~5% of parsing
    )
    try:
        # Bytes with an explicit encoding: lxml refuses str input carrying an XML declaration.
        data = text.encode("utf-8", "replace") if isinstance(text, str) else text
        root = etree.fromstring(data, parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
        raise ParseError("unparseable") from exc
    if root is None:
        raise ParseError("empty_document")
    if any(e.type_name == "ERR_RESOURCE_LIMIT" for e in parser.error_log):
        raise ParseError("too_deep")
    return root


def is_hidden(el: HtmlElement) -> bool:
    """Invisible: ``hidden``, ``aria-hidden`` (decorative duplicates), display:none or
    visibility:hidden in the style attribute."""
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    style = el.get("style")
    return style is not None and _HIDDEN_STYLE.search(style) is not None


def drop(el: HtmlElement) -> None:
    """Remove an element but keep its tail text, which belongs to the text around it."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def clean_tree(root: HtmlElement) -> None:
    """Remove non-content elements in place: scripts, forms, "enable JavaScript" notes.

    Hidden elements are left to ``is_hidden`` in the furniture pass, which reads every
    element of the body anyway (a second Python walk over the tree costs ~8%)."""
    etree.strip_elements(root, *DROP_TAGS, with_tail=False)
    for ns in list(root.iter("noscript")):
        # <noscript><img></noscript> is the lazy-load fallback we want; anything else is
        # "please enable JavaScript".
        if next(ns.iter("img"), None) is None:
            drop(ns)


# In C: ~3x faster than " ".join(text.split()) in Python. normalize-space() collapses XML
# whitespace only, so a no-break space counts as a character here (a few per page).
_TEXT_LEN = etree.XPath("string-length(normalize-space())")


class TextLengths:
    """Whitespace-normalised text lengths and link densities of one page's elements.

    Link text lengths are cached per ``<a>``: nested candidates share their links, and the
    same links are asked about again when siblings of the winner are judged.
    """

    def __init__(self) -> None:
        self._links: dict[HtmlElement, int] = {}

    @staticmethod
    def text(el: HtmlElement) -> int:
        return int(_TEXT_LEN(el))

    def link_density(self, el: HtmlElement) -> float:
        total = self.text(el)
        if not total:
            return 0.0
        cache, links = self._links, 0
        for a in el.iter("a"):
            n = cache.get(a)
            if n is None:
                n = cache[a] = int(_TEXT_LEN(a))
            links += n
        return min(1.0, links / total)
