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

# Matched against a class/id value split into lowercase words (see hint_words), so a name is
# judged by its words: "APageRoot" is not a "pager", "non-paywall" is no paywall.
# No alternative matches a space, so each match lies within one word.
UNLIKELY = re.compile(
    r"\bads?\b|\bnav\b|advert|agegate|banner|breadcrumb|combx|comment|communit|consent|cookie|"
    r"disqus|footer|gdpr|masthead|menu|modal|navbar|newsletter|outbrain|pagination|popup|promo|"
    r"recommend|related|remark|repl(?:y|ies)|rss|share|sharing|shoutbox|sidebar|signup|"
    r"skyscraper|social|sponsor|subscri|supplemental|taboola|toolbar|trending|skip|"
    r"\bmost ?popular\b|\bmore ?stories\b|"
    # Bylines, dates, author boxes and post metadata: not the body (and often its "without")
    r"\bauthor|\bbyline|\bbio\b|\bmeta\b|\bpostmeta|\butility\b|\bdateline|\bcopyright"
)
# Names that also label parts of an article (a card's or a table's header, a page-builder
# widget, a collapsed "read more" text, a paywalled body): furniture only when small.
WEAK = re.compile(r"header|widget|paywall|\bpager\b|\bread ?more\b")
MAYBE = re.compile(r"and|article|body|column|content|main|shadow|story|entry|post")
_COMMENTS = re.compile(r"comment|disqus|repl(?:y|ies)")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")
# Not <form>: ASP.NET-style pages wrap the whole page in one. <header> is weak: inside an
# article it holds the headline and the lead.
FURNITURE_TAGS = frozenset({"nav", "aside", "footer"})
FURNITURE_ROLES = frozenset(
    {"navigation", "complementary", "contentinfo", "banner", "menu", "menubar", "dialog",
     "alertdialog", "search", "toolbar"}
)
PROTECTED_TAGS = frozenset({"html", "body", "article", "main"})
_NO_HINT = (False, False, False, False)
# A weak-named block is furniture unless it holds this share of the page's non-link text.
_WEAK_SHARE = 0.25
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


def hint_words(value: str) -> str:
    """A class/id value as space-separated lowercase words: camelCase and every
    non-alphanumeric character split."""
    return " ".join(_NON_WORD.split(_CAMEL.sub(" ", value).lower())).strip()


@lru_cache(maxsize=1 << 15)
def hint_flags(value: str) -> tuple[bool, bool, bool, bool]:
    """(furniture-like, weakly furniture-like, content-like, comment block) for one class or
    id attribute value."""
    words = hint_words(value)
    return (bool(UNLIKELY.search(words)), bool(WEAK.search(words)),
            bool(MAYBE.search(value.lower())), bool(_COMMENTS.search(words)))


def prose_len(el: HtmlElement) -> int:
    """Characters in the paragraphs under ``el``: what an article is made of."""
    return sum(len(text_of(p)) for p in el.iter("p"))


def _plain_len(el: HtmlElement) -> int:
    """Characters of whitespace-normalised text outside links."""
    text = len(" ".join(text_of(el).split()))
    return text - sum(len(" ".join(text_of(a).split())) for a in el.iter("a")) if text else 0


def _in_article(el: HtmlElement) -> bool:
    return any(True for _ in el.iterancestors("article", "main"))


_SENTENCE = re.compile(r"\w[.!?…][\"'”’»)]?(?:\s|$)")
_LEAD_TAGS = ("p", "div", "h2", "h3", "span", "section")


def _has_lead(el: HtmlElement) -> bool:
    """Whether a header holds a lead: a sentence-ending block of 80+ characters (an article
    header is otherwise headline, byline and date, which the article text goes without)."""
    for e in el.iter(_LEAD_TAGS):
        text = " ".join(text_of(e).split())
        if len(text) >= 80 and _SENTENCE.search(text) and not any(True for _ in e.iter("a")):
            return True
    return False


def furniture_signal(el: HtmlElement, names: bool = True) -> tuple[bool, bool, bool] | None:
    """None when ``el`` is not furniture, else (True, comment block, weak).

    Furniture: a furniture tag or ARIA role, or a class/id with a furniture-like name and no
    content-like name. Weak furniture (a weak name) is judged by its size later. A <header>,
    or a header-named block inside an article, is kept when it holds a lead. The article's
    own containers are never furniture. With ``names`` False only tags and roles count.
    """
    tag = el.tag
    cls = el.get("class")
    # A heading's id is an anchor for in-page links, often made from its text ("nav_<slug>").
    ident = el.get("id") if tag not in _HEADINGS else None
    cf, cw, cm, cc = hint_flags(cls) if cls else _NO_HINT
    idf, idw, idm, idc = hint_flags(ident) if ident else _NO_HINT
    if tag in PROTECTED_TAGS or (el.get("itemprop") or "").lower() == "articlebody":
        return None
    if tag in FURNITURE_TAGS or (el.get("role") or "").lower() in FURNITURE_ROLES:
        return True, cc or idc, False
    if tag == "header":  # the page's header, or an article's: headline, byline, date, lead
        return None if _has_lead(el) else (True, False, False)
    if not names or tag == "a" or cm or idm:
        return None
    if cf or idf:
        return True, cc or idc, False
    if cw or idw:
        if _in_article(el) and "header" in hint_words(f"{cls or ''} {ident or ''}"):
            return None if _has_lead(el) else (True, False, False)
        return True, False, True
    return None


def remove_furniture(body: HtmlElement, *, names: bool = True) -> None:
    """Drop navigation, banners, comment and share blocks under ``body``, in place; with
    ``names`` False, only what tags and ARIA roles mark (the fallback's looser pass).

    Decisions are made in document order and a doomed subtree is dropped at once: an
    element's decision depends only on its own subtree, which no earlier drop touches.
    """
    body_prose = prose_len(body)
    body_plain = -1  # computed on the first weak candidate: most pages have few
    elements = list(body.iterdescendants(etree.Element))
    i, n = 0, len(elements)
    while i < n:
        el = elements[i]
        i += 1
        signal = furniture_signal(el, names)
        if signal is None:
            continue
        _, comments, weak = signal
        if weak:
            if body_plain < 0:
                body_plain = _plain_len(body)
            doomed = _plain_len(el) < _WEAK_SHARE * body_plain
        else:
            doomed = comments or prose_len(el) < 0.5 * body_prose
        if doomed:
            i += sum(1 for _ in el.iterdescendants(etree.Element))  # skip the subtree
            drop(el)
