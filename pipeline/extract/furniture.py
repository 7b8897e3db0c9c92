"""Page furniture: navigation, banners, comment threads and share blocks, removed before scoring.

Judged from generic signals only: furniture tags (nav, aside, footer, header),
ARIA landmark roles, and class/id names (readability's "unlikely candidates"
list, widened), with content-like names vetoing. A hint is only a hint: a
subtree holding at least half of the page's paragraph text is the article,
whatever it is called (Blogger wraps posts in class="widget Blog", some
sites put the story in <header>). Comment threads get no such guard, since
they can outweigh the article.

Cost matters here: every element of every page passes through
``remove_furniture``. The hint regexes run on lowercased values (case-folding
inside the regex engine is ~4x slower) once per distinct class or id value
(values repeat across elements and pages, so they are cached), and a dropped
subtree's elements are skipped, not judged.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lxml import etree

from pipeline.extract.dom import HtmlElement, drop, text_of

# Matched against lowercased class/id values. No alternative can match whitespace, so a
# search over a whole value equals a search over each of its names.
UNLIKELY = re.compile(
    r"-ad-|\bads?\b|advert|agegate|banner|breadcrumb|combx|comment|communit|consent|cookie|"
    r"disqus|footer|gdpr|header|masthead|menu|modal|navbar|\bnav\b|newsletter|outbrain|"
    r"pagination|pager|paywall|popup|promo|recommend|related|remark|repl(?:y|ies)|rss|share|"
    r"sharing|shoutbox|sidebar|signup|skyscraper|social|sponsor|subscri|supplemental|taboola|"
    r"toolbar|trending|widget|most-?popular|more-?stories|read-?more|skip"
)
MAYBE = re.compile(r"and|article|body|column|content|main|shadow|story|entry|post")
_COMMENTS = re.compile(r"comment|disqus|repl(?:y|ies)")
# Not <form>: ASP.NET-style pages wrap the whole page in one.
FURNITURE_TAGS = frozenset({"nav", "aside", "footer", "header"})
FURNITURE_ROLES = frozenset(
    {"navigation", "complementary", "contentinfo", "banner", "menu", "menubar", "dialog",
     "alertdialog", "search", "toolbar"}
)
PROTECTED_TAGS = frozenset({"html", "body", "article", "main"})
_NO_HINT = (False, False, False)


@lru_cache(maxsize=1 << 15)
def hint_flags(value: str) -> tuple[bool, bool, bool]:
    """(furniture-like, content-like, comment block) for one class or id attribute value."""
    v = value.lower()
    return bool(UNLIKELY.search(v)), bool(MAYBE.search(v)), bool(_COMMENTS.search(v))


def prose_len(el: HtmlElement) -> int:
    """Characters in the paragraphs under ``el``: what an article is made of."""
    return sum(len(text_of(p)) for p in el.iter("p"))


def furniture_signal(el: HtmlElement) -> tuple[bool, bool] | None:
    """None when ``el`` is not furniture-like, else (True, whether it is a comment block).

    Furniture-like: a furniture tag or ARIA role, or a class/id with some furniture-like
    name and no content-like name. The article's own containers are never furniture.
    """
    cls, ident = el.get("class"), el.get("id")
    cf, cm, cc = hint_flags(cls) if cls else _NO_HINT
    idf, idm, idc = hint_flags(ident) if ident else _NO_HINT
    tag = el.tag
    structural = tag in FURNITURE_TAGS or (el.get("role") or "").lower() in FURNITURE_ROLES
    if not structural and (tag == "a" or not (cf or idf) or cm or idm):
        return None
    if tag in PROTECTED_TAGS or (el.get("itemprop") or "").lower() == "articlebody":
        return None
    return True, cc or idc


def remove_furniture(body: HtmlElement) -> None:
    """Drop navigation, banners, comment and share blocks under ``body``, in place.

    Decisions are made in document order and a doomed subtree is dropped at once: an
    element's decision depends only on its own subtree, which no earlier drop touches.
    """
    body_prose = prose_len(body)
    elements = list(body.iterdescendants(etree.Element))
    i, n = 0, len(elements)
    while i < n:
        el = elements[i]
        i += 1
        signal = furniture_signal(el)
        if signal is None:
            continue
        if signal[1] or prose_len(el) < 0.5 * body_prose:
            i += sum(1 for _ in el.iterdescendants(etree.Element))  # skip the subtree
            drop(el)
