"""Class and id names judged by their words: furniture-like, weakly so, content-like, comments.

A name is split into lowercase words (camelCase and every separator split), so it is judged
by what it says: "APageRoot" is no "pager", "non-paywall" no paywall, "mainNav" is a nav.
The word patterns are readability's "unlikely candidates" widened; the "content-like" words
veto a furniture word only from a separate class name ("related-articles" is furniture,
"p-body-main p-body-main--withSidebar" is not).

Cost: every element's names pass through here. Flags are cached per word and per class
name (page builders add a unique id-like name to every element, so whole values repeat
far less), and most names are cleared by a single gate search.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Matched against each word of a class/id value (see _words), so a name is judged by its
# words: "APageRoot" is not a "pager", "non-paywall" is no paywall. Two-word names
# ("most popular") are matched on the two words joined.
UNLIKELY = re.compile(
    r"\bads?\b|\bnav\b|advert|agegate|banner|breadcrumb|combx|comment(?!ary)|communit|consent|"
    r"cookie|disqus|footer|gdpr|masthead|menu|modal|navbar|newsletter|outbrain|pagination|popup|promo|"
    r"recommend|related|remark|repl(?:y|ies)|rss|share|sharing|shoutbox|sidebar|signup|"
    r"skyscraper|social|sponsor|subscri|supplemental|taboola|toolbar|trending|skip|"
    r"\bmostpopular\b|\bmorestories\b|"
    # Bylines, dates, author boxes and post metadata: not the body (and often its "without")
    r"\bauthor|\bbyline|\bbio\b|\bmeta\b|\bpostmeta|\butility\b|\bdateline"
)
# Names that also label parts of an article (a card's or a table's header, a page-builder
# widget, a collapsed "read more" text, a paywalled body): furniture only when small.
WEAK = re.compile(r"header|widget|paywall|\bpager\b|\breadmore\b")
MAYBE = re.compile(r"and|article|body|column|content|main|shadow|story|entry|post")
_COMMENTS = re.compile(r"comment(?!ary)|disqus|repl(?:y|ies)")
_ANY_HINT = re.compile("|".join(p.pattern for p in (UNLIKELY, WEAK, MAYBE, _COMMENTS)))
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")
NO_HINT = (False, False, False, False)


def _words(value: str) -> list[str]:
    lower = value.lower()
    if lower != value:  # camelCase splitting only where there are capitals (regex: ~1 us)
        lower = _CAMEL.sub(" ", value).lower()
    return [w for w in _NON_WORD.split(lower) if w]


def hint_words(value: str) -> str:
    """A class/id value as space-separated lowercase words: camelCase and every
    non-alphanumeric character split."""
    return " ".join(_words(value))


# Flags per word, shared by every value holding it: names repeat their words far more than
# whole values (page builders add a unique id word per element), and the patterns run ~10x
# faster on one word than on a value. Cleared when it grows past a bound.
_WORD_FLAGS: dict[str, tuple[bool, bool, bool, bool]] = {}
_MAX_WORDS = 1 << 17
_PAIR_FIRST = frozenset({"most", "more", "read"})  # "most popular", "more stories", "read more"


def _word_flags(word: str) -> tuple[bool, bool, bool, bool]:
    """(furniture-like, weak, content-like, comment) for one word of a name."""
    flags = _WORD_FLAGS.get(word)
    if flags is None:
        if len(_WORD_FLAGS) >= _MAX_WORDS:
            _WORD_FLAGS.clear()
        if _ANY_HINT.search(word) is None:  # most words: one search, not four
            flags = NO_HINT
        else:
            flags = (bool(UNLIKELY.search(word)), bool(WEAK.search(word)),
                     bool(MAYBE.search(word)), bool(_COMMENTS.search(word)))
        _WORD_FLAGS[word] = flags
    return flags


_NAME_FLAGS: dict[str, tuple[bool, bool, bool, bool]] = {}
# Every pattern with its anchors and lookaheads dropped: a name none of them matches has no
# hint in any of its words, so most names are judged by one search.
_NAME_GATE = re.compile(_ANY_HINT.pattern.replace(r"\b", "").replace("(?!ary)", ""))


def _name_flags(name: str) -> tuple[bool, bool, bool, bool]:
    """(furniture-like, weak, content-like, comment) for one class name (or id), cached."""
    flags = _NAME_FLAGS.get(name)
    if flags is None:
        if len(_NAME_FLAGS) >= _MAX_WORDS:
            _NAME_FLAGS.clear()
        low = name.lower()
        if _NAME_GATE.search(low) is not None:
            flags = _words_flags(name)
        elif any(w in low for w in _PAIR_FIRST):
            # Two-word names match with their words joined ("most-popular" -> "mostpopular").
            compact = _NON_WORD.sub("", low)
            flags = NO_HINT if _NAME_GATE.search(compact) is None else _words_flags(name)
        else:
            flags = NO_HINT
        _NAME_FLAGS[name] = flags
    return flags


def _words_flags(name: str) -> tuple[bool, bool, bool, bool]:
    unlikely = weak = content = comment = False
    prev = ""
    for word in _words(name):
        u, w, m, c = _word_flags(word)
        if prev in _PAIR_FIRST:  # the two-word names, as one word
            pu, pw, pm, pc = _word_flags(prev + word)
            u, w, m, c = u or pu, w or pw, m or pm, c or pc
        unlikely, weak, content, comment = unlikely or u, weak or w, content or m, comment or c
        prev = word
    return unlikely, weak, content, comment


@lru_cache(maxsize=1 << 15)
def hint_flags(value: str) -> tuple[bool, bool, bool, bool]:
    """(furniture-like, weakly furniture-like, content-like, comment block) for one class or
    id attribute value.

    Content-like means some class name is content-like and furniture-like at once never:
    in one name the furniture word says what the block is ("related-articles",
    "post-footer"); a separate content name vetoes it ("p-body-main p-body-main--withSidebar").
    Names starting "js-" are script hooks, not roles, and are left out."""
    unlikely = weak = content = comment = False
    for name in value.split():
        if name.startswith(("js-", "js_")):
            continue
        u, w, m, c = _name_flags(name)
        unlikely, weak, comment = unlikely or u, weak or w, comment or c
        content = content or (m and not u and not w)
    return unlikely, weak, content, comment
