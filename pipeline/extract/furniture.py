"""Page furniture: navigation, banners, comment threads and share blocks, removed before scoring.

Judged from generic signals only: furniture tags (nav, aside, footer, header),
ARIA landmark roles, and class/id names (readability's "unlikely candidates"
list, widened), with content-like names vetoing. A hint is only a hint: a
subtree holding at least half of the page's paragraph text is the article,
whatever it is called (Blogger wraps posts in class="widget Blog", some
sites put the story in <header>). Comment threads get no such guard, since
they can outweigh the article.

Cost matters here: every element of every page passes through
``remove_furniture``: names are judged once per distinct name (extract.names), an
element's attributes are read only when present, and a dropped subtree's elements
are skipped, not judged.
"""

from __future__ import annotations

import re

from lxml import etree

from pipeline.extract.dom import HtmlElement, TextLengths, drop, is_hidden, text_of
from pipeline.extract.markup import Landmarks
from pipeline.extract.names import NO_HINT, hint_flags, hint_words

# Not <form>: ASP.NET-style pages wrap the whole page in one. <header> is weak: inside an
# article it holds the headline and the lead.
FURNITURE_TAGS = frozenset({"nav", "aside", "footer"})
FURNITURE_ROLES = frozenset(
    {"navigation", "complementary", "contentinfo", "banner", "menu", "menubar", "dialog",
     "alertdialog", "search", "toolbar"}
)
PROTECTED_TAGS = frozenset({"html", "body", "article", "main"})
# A weak-named block is furniture unless it holds this share of the page's non-link text.
_WEAK_SHARE = 0.25
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_TABLE_TAGS = frozenset({"table", "thead", "tbody", "tr", "th", "td"})
# Links (the article's own and the menus' alike), images (extract.images judges them) and
# inline formatting: never furniture by their names.
_SIGNAL_TAGS = FURNITURE_TAGS | {"header"}  # furniture by tag alone, attributes or not
_NEVER_FURNITURE = frozenset({"a", "img", "br", "b", "i", "em", "strong", "u", "sup", "sub", "wbr"})


def prose_len(el: HtmlElement, cache: dict[HtmlElement, str] | None = None) -> int:
    """Characters in the paragraphs under ``el``: what an article is made of. ``cache``
    holds (and receives) each paragraph's text."""
    if cache is None:
        return sum(len(text_of(p)) for p in el.iter("p"))
    total = 0
    for p in el.iter("p"):
        text = cache.get(p)
        if text is None:
            text = cache[p] = text_of(p)
        total += len(text)
    return total


_LINK_TEXTS = etree.XPath(".//a//text()")


def _plain_len(el: HtmlElement) -> int:
    """Characters of text outside links (whitespace-normalised, roughly: link texts are
    counted as they stand). One XPath for all the links, not one per link."""
    links = len(" ".join("".join(_LINK_TEXTS(el)).split()))
    return TextLengths.text(el) - links


def _in_article(el: HtmlElement) -> bool:
    return any(True for _ in el.iterancestors("article", "main"))


def _in_item(el: HtmlElement) -> bool:
    parent = el.getparent()
    return parent is not None and parent.tag in ("li", "dd")


_SENTENCE = re.compile(r"\w[.!?…][\"'”’»)]?(?:\s|$)")
_LEAD_TAGS = ("p", "div", "h2", "h3", "span", "section")
_LEAD_CHARS = 80


# Blocks that could be a lead, found in C: a header can hold hundreds of menu elements.
_LEAD_BLOCKS = etree.XPath(
    ".//*[self::p or self::div or self::h2 or self::h3 or self::span or self::section]"
    "[not(.//a)][string-length(normalize-space()) >= $n]")


def _has_lead(el: HtmlElement) -> bool:
    """Whether a header holds a lead: a sentence-ending block of 80+ characters without
    links (an article header is otherwise headline, byline and date, which the article
    text goes without)."""
    if TextLengths.text(el) < _LEAD_CHARS:
        return False
    blocks = _LEAD_BLOCKS(el, n=_LEAD_CHARS)
    return any(_SENTENCE.search(" ".join(text_of(e).split())) for e in blocks)


def furniture_signal(
    el: HtmlElement, names: bool = True, tag: str | None = None, keys: list[str] | None = None
) -> tuple[bool, bool, bool] | None:
    """None when ``el`` is not furniture, else (True, comment block, weak).

    Furniture: a furniture tag or ARIA role, or a class/id with a furniture-like name and no
    content-like name. Weak furniture (a weak name) is judged by its size later. A <header>,
    or a header-named block inside an article, is kept when it holds a lead. The article's
    own containers are never furniture. With ``names`` False only tags and roles count.
    """
    # Every element of every page comes here: the common "no signal" paths return early,
    # with as few attribute reads as they need (``tag``, ``keys``: el.tag and el.keys(),
    # when the caller has them: an attribute not in ``keys`` is not read).
    tag = tag or el.tag
    if tag in PROTECTED_TAGS:
        return None
    if keys is None:
        keys = el.keys()
    role = el.get("role") if "role" in keys else None
    structural = tag in FURNITURE_TAGS or (role is not None and role.lower() in FURNITURE_ROLES)
    if not (structural or tag == "header" or names):
        return None
    cls = el.get("class") if "class" in keys else None
    # A heading's id is an anchor for in-page links, often made from its text ("nav_<slug>").
    ident = el.get("id") if "id" in keys and tag not in _HEADINGS else None
    if cls is None and ident is None and not structural and tag != "header":
        return None
    cf, cw, cm, cc = hint_flags(cls) if cls else NO_HINT
    idf, idw, idm, idc = hint_flags(ident) if ident else NO_HINT
    if structural:
        signal = True, cc or idc, False
    elif tag == "header":  # the page's header, or an article's: headline, byline, date, lead
        # ... but in a list item it heads the item (an accordion's question, a card).
        signal = None if _has_lead(el) or _in_item(el) else (True, False, False)
    elif not names or tag == "a" or cm or idm:
        return None
    elif cf or idf:
        signal = True, cc or idc, False
    elif cw or idw:
        if tag in _TABLE_TAGS:  # a table's "header" or "widget" styling: tabular content
            return None
        if _in_article(el) and "header" in hint_words(f"{cls or ''} {ident or ''}"):
            signal = None if _has_lead(el) else (True, False, False)
        else:
            signal = True, False, True
    else:
        return None
    if signal is not None and (el.get("itemprop") or "").lower() == "articlebody":
        return None
    return signal


def remove_furniture(body: HtmlElement, *, names: bool = True) -> Landmarks:
    """Drop hidden elements, navigation, banners, comment and share blocks under ``body``,
    in place; with ``names`` False, only what tags and ARIA roles mark (the fallback's
    looser pass) besides hidden elements. Returns the article markup that stays.

    Decisions are made in document order, a doomed subtree is not looked into, and the
    drops wait for the end of the walk: an element's decision depends only on its own
    subtree, which holds no earlier doomed element (ancestors come first).
    """
    paragraphs: dict[HtmlElement, str] = {}  # keeps the proxies alive, so lookups hit
    body_prose = prose_len(body, paragraphs)
    doomed: list[HtmlElement] = []
    marks = Landmarks([], [], [], paragraphs)
    walker = etree.iterwalk(body, events=("start",))  # libxml2 walks; ~2.5x a Python loop
    next(walker)  # body itself
    for _, el in walker:
        tag = el.tag
        if not isinstance(tag, str):
            continue
        keys = el.keys()  # one read; most elements have none of the attributes asked for
        if keys and ("style" in keys or "hidden" in keys or "aria-hidden" in keys) \
                and is_hidden(el):
            doomed.append(el)
            walker.skip_subtree()
            continue
        if tag in _NEVER_FURNITURE:  # a quarter of all elements: skip the attribute reads
            continue
        if tag == "article" or tag == "main":
            (marks.articles if tag == "article" else marks.mains).append(el)
        if not keys and tag not in _SIGNAL_TAGS:
            continue
        if "itemprop" in keys and (el.get("itemprop") or "").lower() == "articlebody":
            marks.bodies.append(el)
            continue  # never furniture
        signal = furniture_signal(el, names, tag, keys)
        if signal is None:
            continue
        _, comments, weak = signal
        if weak:
            drop_it = _plain_len(el) < _WEAK_SHARE * body_prose
        else:
            drop_it = comments or prose_len(el, paragraphs) < 0.5 * body_prose
        if drop_it:
            doomed.append(el)
            walker.skip_subtree()
    for el in doomed:
        drop(el)
    return marks
