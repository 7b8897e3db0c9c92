"""Find a page's main content: readability-style scoring on the lxml tree.

Generic signals only, no per-site rules: paragraphs of prose (and runs of
loose text between block children) score their parent and (decaying)
ancestors; a container's score is discounted by its link density; class/id
hints weigh candidates (furniture was already removed by extract_furniture).
Near-equal rivals of the winner lift the pick to their common container (a
story split into blocks or chunks), and the winner's siblings that also read
as prose join it (articles split across sibling containers).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from lxml import etree

from pipeline.extract.dom import HtmlElement, TextLengths, text_of
from pipeline.extract.markup import Landmarks, semantic_roots, semantic_weight

# Candidate weights from class/id, matched against lowercased values.
POSITIVE = re.compile(
    r"article|body|content|entry|hentry|h-entry|main|page|post|text|blog|story|prose"
)
NEGATIVE = re.compile(
    r"-ad-|hidden|\bhid\b|banner|combx|comment|com-|contact|foot|footer|footnote|gdpr|masthead|"
    r"media|meta|outbrain|promo|related|scroll|share|shoutbox|sidebar|skyscraper|sponsor|"
    r"shopping|tags|tool|widget|newsletter|subscri|cookie"
)
BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figure", "figcaption",
     "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
     "ol", "p", "pre", "section", "table", "tbody", "thead", "tfoot", "tr", "td", "th", "ul"}
)
_TAG_PRIOR = {"div": 5, "article": 5, "main": 5, "section": 2, "pre": 3, "td": 3, "blockquote": 3,
              "address": -3, "ol": -3, "ul": -3, "dl": -3, "dd": -3, "dt": -3, "li": -3,
              "form": -3, "h1": -5, "h2": -5, "h3": -5, "h4": -5, "h5": -5, "h6": -5, "th": -5}
_MIN_PARAGRAPH = 25
_SENTENCE_END = re.compile(r"[.!?…](?:\s|$)")
_ANCESTOR_LEVELS = 5
_DECAY = tuple(1 if lv == 0 else 2 if lv == 1 else lv * 3 for lv in range(_ANCESTOR_LEVELS))
_CHUNK_LEVELS = 2
_RIVAL_SHARE = 0.75  # a candidate scoring this share of the best is its rival


def hint(el: HtmlElement) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}"


# (positive, negative) per class name: no pattern spans a space, so a value matches where
# one of its names does, and names repeat across elements far more than whole values.
_NAME_HINTS: dict[str, tuple[bool, bool]] = {}
_ANY_HINT = re.compile(f"{POSITIVE.pattern}|{NEGATIVE.pattern}")
_MAX_NAMES = 1 << 16


def _name_hints(name: str) -> tuple[bool, bool]:
    flags = _NAME_HINTS.get(name)
    if flags is None:
        if len(_NAME_HINTS) >= _MAX_NAMES:
            _NAME_HINTS.clear()
        low = name.lower()  # the patterns are lowercase; re.IGNORECASE is ~4x slower
        if _ANY_HINT.search(low) is None:  # most names: one search, not two
            flags = (False, False)
        else:
            flags = (POSITIVE.search(low) is not None, NEGATIVE.search(low) is not None)
        _NAME_HINTS[name] = flags
    return flags


@lru_cache(maxsize=1 << 14)
def _hint_weight(h: str) -> float:
    pos = neg = False
    for name in h.split():
        p, n = _name_hints(name)
        pos, neg = pos or p, neg or n
    return (25.0 if pos else 0.0) - (25.0 if neg else 0.0)


def class_weight(el: HtmlElement) -> float:
    if (el.get("itemprop") or "").lower() == "articlebody":
        return 50.0
    h = hint(el)
    return _hint_weight(h) if h.strip() else 0.0


def _has_block_child(el: HtmlElement) -> bool:
    return any(isinstance(c.tag, str) and c.tag in BLOCK_TAGS for c in el)


def _loose_runs(el: HtmlElement) -> list[str]:
    """Text lying directly in a container beside its block children, one string per run
    between block children (the text and tails of inline children included).

    Some pages put the article as bare text after a title <p>; without this it scores
    nothing (readability wraps such runs in <p> for the same reason).
    """
    runs, cur = [], [el.text or ""]
    for child in el:
        tag = child.tag
        if isinstance(tag, str):
            if tag in BLOCK_TAGS:
                runs.append("".join(cur))
                cur = []
            else:
                cur.append(text_of(child))
        cur.append(child.tail or "")
    runs.append("".join(cur))
    return runs


def _credit(
    scores: dict[HtmlElement, float], parent: HtmlElement | None, raw: str, loose: bool = False
) -> int:
    """A prose paragraph feeds its parent and (decaying) ancestors; short text feeds nothing.

    Loose text must also hold a sentence end: outside a <p>, titles and datelines
    ("Updated 11:21 pm, Tuesday, November 19") are as common as prose. Returns the
    paragraph's length when it scored, else 0.
    """
    if len(raw) < _MIN_PARAGRAPH:  # normalising only shortens; most runs end here
        return 0
    text = " ".join(raw.split())
    if len(text) < _MIN_PARAGRAPH or (loose and not _SENTENCE_END.search(text)):
        return 0
    score = 1 + text.count(",") + min(len(text) // 100, 3)
    anc = parent
    for divisor in _DECAY:
        if anc is None:
            break
        prior = scores.get(anc)
        if prior is None:
            tag = anc.tag  # read only for a new candidate: el.tag builds a new string
            if tag == "html":
                break
            prior = _TAG_PRIOR.get(tag, 0) + class_weight(anc)
        scores[anc] = prior + score / divisor
        anc = anc.getparent()
    return len(text)


def score_candidates(
    body: HtmlElement, lengths: TextLengths | None = None, marks: Landmarks | None = None,
    title: str = "",
) -> _LinkDiscounted:
    """Readability scores: each prose paragraph feeds its ancestors, decaying with distance.

    Paragraphs are p/pre/td/blockquote, div-like elements with inline children only, and
    runs of loose text inside div-like elements that also have block children.
    """
    lengths = lengths or TextLengths()
    scores: dict[HtmlElement, float] = {}
    # Blocks inside a link are a teaser card's text, not prose (link density, which counts
    # links below an element, cannot see a link around it).
    in_link = set(_IN_LINK(body))
    total = 0  # characters of the paragraphs that scored: the page's prose
    texts = marks.texts if marks is not None else {}  # <p> texts the furniture pass read
    for el in body.iter("p", "pre", "td", "blockquote", "div", "section", "article"):
        if in_link and el in in_link:
            continue
        tag = el.tag
        if tag == "p":
            text = texts.get(el)
            total += _credit(scores, el.getparent(), text_of(el) if text is None else text)
        elif tag in ("pre", "td", "blockquote") or not _has_block_child(el):
            total += _credit(scores, el.getparent(), text_of(el))
        else:
            for run in _loose_runs(el):
                total += _credit(scores, el, run, loose=True)
    discounted = _LinkDiscounted(scores, lengths, semantic_roots(body, marks, title))
    discounted.prose_chars = total
    return discounted


class _LinkDiscounted(dict):
    """Scores discounted by link density and weighted by article markup, computed when
    first asked for: only the top candidates, their rivals and the winner's siblings are
    ever asked (link density and the ancestor walk are the costly part of scoring).
    ``raw`` holds the paragraph scores alone."""

    def __init__(self, raw: dict[HtmlElement, float], lengths: TextLengths,
                 roots: dict[HtmlElement, float]) -> None:
        super().__init__()
        self.raw, self.lengths, self.roots = raw, lengths, roots
        self.max_weight = max(roots.values(), default=1.0)
        self.prose_chars = 0

    def __missing__(self, el: HtmlElement) -> float:
        value = self.raw[el] * (1 - self.lengths.link_density(el))
        value *= semantic_weight(el, self.roots)
        self[el] = value
        return value

    def get(self, el: HtmlElement, default: float = 0.0) -> float:  # type: ignore[override]
        return self[el] if el in self.raw else default

    def ranked(self, share: float) -> list[tuple[HtmlElement, float]]:
        """(element, final score) of every candidate scoring at least ``share`` of the best,
        best first. A final score is at most raw x max_weight, so once that falls below
        ``share`` of the best final score, no later candidate can qualify."""
        best, out = 0.0, []
        for el, raw in sorted(self.raw.items(), key=lambda kv: -kv[1]):
            if raw * self.max_weight < share * best:
                break
            score = self[el]
            best = max(best, score)
            out.append((el, score))
        out.sort(key=lambda kv: -kv[1])
        return [(el, sc) for el, sc in out if sc >= share * best]


_IN_LINK = etree.XPath(".//a//*")


def _sibling_joins(
    sib: HtmlElement, top: HtmlElement, sib_score: float, threshold: float, lengths: TextLengths
) -> bool:
    bonus = 0.2 * threshold * 5 if sib.get("class") and sib.get("class") == top.get("class") else 0
    if sib_score + bonus >= threshold:
        return True
    if sib.tag == "p":
        n, ld = lengths.text(sib), lengths.link_density(sib)
        text = text_of(sib)
        return (n > 80 and ld < 0.25) or (0 < n <= 80 and ld == 0 and re.search(r"\.( |$)", text))
    return False


def _common_container(top: HtmlElement, rivals: list[HtmlElement]) -> HtmlElement:
    """The ancestor of ``top`` that holds the article when near-equal rivals share it.

    Three or more rivals under one ancestor (a story split into many blocks), or one rival
    within _CHUNK_LEVELS of ``top`` (a story split into a few chunks, each in its own
    wrapper): the article is that ancestor. Rivals nested in or around ``top`` don't count.
    """
    top_ancestors = set(top.iterancestors())
    disjoint = [r for r in rivals if r not in top_ancestors and top not in r.iterancestors()]
    if not disjoint:
        return top
    anc, level = top.getparent(), 1
    while anc is not None and anc.tag != "body":
        under = sum(1 for r in disjoint if anc in r.iterancestors())
        if under >= 3 or (under and level <= _CHUNK_LEVELS):
            return anc
        anc, level = anc.getparent(), level + 1
    return top


class Selection(NamedTuple):
    elements: list[HtmlElement]  # the article's elements in document order; [] for none
    prose_chars: int  # characters of the page's paragraphs that scored


def main_content(
    body: HtmlElement, lengths: TextLengths | None = None, marks: Landmarks | None = None,
    title: str = "",
) -> Selection:
    """The elements holding the article, and how much paragraph text the page holds.
    ``marks``: the article markup the furniture walk met (else sought here); ``title``:
    the page's <title>."""
    lengths = lengths or TextLengths()
    scores = score_candidates(body, lengths, marks, title)
    if not scores.raw:
        return Selection([], scores.prose_chars)
    found = _pick(scores, lengths)
    return Selection(found, scores.prose_chars)


def _pick(scores: _LinkDiscounted, lengths: TextLengths) -> list[HtmlElement]:
    ranked = scores.ranked(_RIVAL_SHARE)
    top, top_score = ranked[0]
    # Several near-equal candidates under one ancestor: the article is that ancestor.
    rivals = [el for el, _ in ranked[1:]]
    top = _common_container(top, rivals)
    parent = top.getparent()
    if parent is None:
        return [top]
    threshold = max(10.0, 0.2 * scores.get(top, top_score))
    picked = []
    for sib in parent:
        if not isinstance(sib.tag, str):
            continue
        if sib is top or _sibling_joins(sib, top, scores.get(sib, 0.0), threshold, lengths):
            picked.append(sib)
    return picked
