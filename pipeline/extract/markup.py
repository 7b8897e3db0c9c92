"""Article markup: where a page says its article is.

A page's only ``<article>``, a schema.org ``itemprop="articleBody"``, and ``<main>``
lend weight to the candidates inside them when the main content is scored; of several
``<article>``s (a story among teasers, a page that appends more stories as one scrolls)
the one whose headline is in the page's ``<title>`` weighs most. The furniture walk meets
these elements anyway and records them (``Landmarks``), sparing a scan of the tree each.
"""

from __future__ import annotations

from typing import NamedTuple

from lxml import etree

from pipeline.extract.dom import HtmlElement, text_of

_ARTICLE_BODY = etree.XPath(".//*[@itemprop='articleBody']")
_ARTICLE_WEIGHT = 1.5
_MAIN_WEIGHT = 1.25  # <main> often wraps sidebars too
_TITLED_WEIGHT = 3.0  # its headline is the page's title: the page is about this one
_MIN_TITLE_MATCH = 15


class Landmarks(NamedTuple):
    """Article markup met on the furniture walk (found there: a separate scan of the tree
    for each costs as much as the walk's attribute reads)."""

    articles: list[HtmlElement]  # <article> elements
    mains: list[HtmlElement]  # <main> elements
    bodies: list[HtmlElement]  # schema.org itemprop="articleBody" elements
    texts: dict[HtmlElement, str]  # each <p>'s text, for scoring to reuse


def _titled_article(articles: list[HtmlElement], title: str) -> HtmlElement | None:
    """Of several <article>s (a page that appends more stories as one scrolls, a story
    among teasers), the only one whose headline is in the page's <title>."""
    title = " ".join(title.split()).lower()
    if len(articles) < 2 or not title:
        return None
    found = None
    for art in articles:
        h = next(art.iter("h1", "h2"), None)
        head = " ".join(text_of(h).split()).lower() if h is not None else ""
        if len(head) >= _MIN_TITLE_MATCH and head in title:
            if found is not None:
                return None
            found = art
    return found


def semantic_roots(
    body: HtmlElement, marks: Landmarks | None, title: str = ""
) -> dict[HtmlElement, float]:
    """Elements whose markup says "the article is in here", with the weight they lend.

    The page's only <article> (several are a list of teasers) and schema.org articleBody
    weigh most, <main> less (it often wraps sidebars too). ``marks`` from the furniture
    walk, or found here."""
    if marks is None:
        marks = Landmarks(
            list(body.iter("article")), list(body.iter("main")), _ARTICLE_BODY(body), {})
    roots: dict[HtmlElement, float] = {}
    if len(marks.articles) == 1:
        roots[marks.articles[0]] = _ARTICLE_WEIGHT
    else:
        titled = _titled_article(marks.articles, title)
        if titled is not None:
            roots[titled] = _TITLED_WEIGHT
    for el in marks.mains:
        roots.setdefault(el, _MAIN_WEIGHT)
    for el in marks.bodies:
        roots[el] = _ARTICLE_WEIGHT
    return roots


def semantic_weight(el: HtmlElement, roots: dict[HtmlElement, float]) -> float:
    if not roots:
        return 1.0
    weight = roots.get(el, 1.0)
    for anc in el.iterancestors():
        w = roots.get(anc)
        if w is not None and w > weight:
            weight = w
    return weight
