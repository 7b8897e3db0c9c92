"""Widen the scored main content to the article around it: its lead, intro, and split parts.

Readability-style scoring finds the densest run of paragraphs, which is most of an article
but often not all of it: the lead sits in the article's header, an intro in its own box, a
section in a sibling container. Climbing from the picked elements towards the enclosing
article container (``<article>``, ``<main>``, schema.org ``articleBody``; or two levels
when there is none), the blocks met on the way are offered to the linearizer as candidates
whose prose joins the document and whose headlines, bylines, dates and link lists do not.
"""

from __future__ import annotations

from pipeline.extract.dom import HtmlElement, TextLengths

_BOUNDARY_TAGS = frozenset({"article", "main"})
_MAX_BOUNDARY_LEVELS = 8  # an article container further up than this is the page wrapper
_PLAIN_LEVELS = 2  # without one, climb this far: leads sit next to or just above the body
_STOP = frozenset({"body", "html"})
# A block around the article with more of its text in links than this is a teaser list or
# navigation (headline links over excerpts), even where each excerpt reads as prose.
_MAX_LINK_DENSITY = 0.15
_MIN_CANDIDATE = 40  # characters: shorter holds no prose block (linearize.is_prose)


def _is_boundary(el: HtmlElement) -> bool:
    return el.tag in _BOUNDARY_TAGS or (el.get("itemprop") or "").lower() == "articlebody"


def _climb_limit(parent: HtmlElement) -> int:
    """How many levels above ``parent`` the article may still extend."""
    anc, level = parent, 0
    while anc is not None and anc.tag not in _STOP and level <= _MAX_BOUNDARY_LEVELS:
        if _is_boundary(anc):
            return level
        anc, level = anc.getparent(), level + 1
    return _PLAIN_LEVELS


def widen(
    picked: list[HtmlElement], lengths: TextLengths | None = None
) -> list[tuple[HtmlElement, bool]]:
    """``picked`` (siblings, in document order) and the candidate blocks around them, in
    document order, each with True for picked content and False for a candidate."""
    parent = picked[0].getparent()
    if parent is None or picked[0].tag in _STOP:
        return [(el, True) for el in picked]
    chosen = set(picked)
    first, last = picked[0], picked[-1]
    middle = []
    inside = False
    for child in parent:
        if child is first:
            inside = True
        if inside and isinstance(child.tag, str):
            middle.append((child, child in chosen))
        if child is last:
            break
    before = [(c, False) for c in _tags(first.itersiblings(preceding=True))][::-1]
    after = [(c, False) for c in _tags(last.itersiblings())]
    limit = _climb_limit(parent)
    node, level = parent, 0
    while level < limit and node.tag not in _STOP and node.getparent() is not None:
        if node.getparent().tag in _STOP:
            break
        before = [(c, False) for c in _tags(node.itersiblings(preceding=True))][::-1] + before
        after = after + [(c, False) for c in _tags(node.itersiblings())]
        node, level = node.getparent(), level + 1
    lengths = lengths or TextLengths()
    return [
        (el, core)
        for el, core in before + middle + after
        if core
        or (lengths.text(el) >= _MIN_CANDIDATE and lengths.link_density(el) <= _MAX_LINK_DENSITY)
    ]


def _tags(elements) -> list[HtmlElement]:
    return [el for el in elements if isinstance(el.tag, str)]


_CARD_CHARS = 600  # a teaser card: a headline link and an excerpt
_CARD_LEVELS = 3
_HEADLINE_SHARE = 0.2
_MIN_HEADLINE = 15


def teaser_cards(body: HtmlElement, lengths: TextLengths | None = None) -> list[HtmlElement]:
    """Teaser cards under ``body``: small blocks where a headline link stands beside an
    excerpt (lists of other articles, whose excerpts read as prose). Outermost first."""
    lengths = lengths or TextLengths()
    cards: list[HtmlElement] = []
    seen: set[HtmlElement] = set()
    for a in body.iter("a"):
        link = lengths.text(a)
        if link < _MIN_HEADLINE:
            continue
        anc = a.getparent()
        for _ in range(_CARD_LEVELS):
            if anc is None or anc is body or anc in seen:
                break
            total = lengths.text(anc)
            if total > _CARD_CHARS:
                break
            if total > link + _MIN_HEADLINE and link >= _HEADLINE_SHARE * total:
                cards.append(anc)
                seen.add(anc)
                break
            anc = anc.getparent()
    return cards
