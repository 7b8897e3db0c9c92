"""Walk the main-content elements into ordered text blocks and images.

One iterative pass (explicit stack, no recursion, so depth costs nothing):
text accumulates into the current block and is flushed at block-level
boundaries; an ``<img>`` flushes the text before it and becomes an image
node in place; a ``<figure>``'s ``<figcaption>`` becomes the caption of the
figure's images and a caption block right after them. Link-dominated blocks
("Read more: ...", lists of related links) are dropped here.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from lxml import etree

from pipeline.document import Node, TextBlock
from pipeline.extract.boilerplate import BLOCK_TAGS
from pipeline.extract.dom import HtmlElement, text_of
from pipeline.extract.images import image_node

_KIND = {"h1": "heading", "h2": "heading", "h3": "heading", "h4": "heading", "h5": "heading",
         "h6": "heading", "li": "li", "dt": "li", "dd": "li", "td": "table", "th": "table",
         "tr": "table", "blockquote": "quote", "pre": "pre", "figcaption": "caption"}
# Cells join into their row's block; every other block-level tag starts a new block.
_BREAK_TAGS = (BLOCK_TAGS - {"td", "th"}) | {"figure", "picture", "caption"}


# Invisible in a browser, but they split words for a substring search or a tokenizer: soft
# hyphens (German and French sites hyphenate long words with them), zero-width spaces, word
# joiners, stray byte order marks. Zero-width (non-)joiners stay: they shape Indic and
# Persian script.
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff]")

_PROSE_KINDS = frozenset({"p", "quote", "li"})
_MIN_PROSE = 40  # with a sentence end
_MIN_RUN_ON = 150  # without one (a standfirst often has no final stop; a headline is shorter)
_MIN_PROSE_HEADING = 80  # a lead set as a heading: long, and ends a sentence
_SENTENCE_END = re.compile(r"\w[.!?…][\"'”’»)]*(?:\s|$)")


def is_prose(block: TextBlock) -> bool:
    """A block that reads as sentences rather than a headline, byline, date or caption."""
    n = len(block.text)
    if block.kind == "heading":
        return n >= _MIN_PROSE_HEADING and _SENTENCE_END.search(block.text) is not None
    if block.kind not in _PROSE_KINDS or n < _MIN_PROSE:
        return False
    return n >= _MIN_RUN_ON or _SENTENCE_END.search(block.text) is not None


_P_TAGS = frozenset({"p", "div", "section", "article"})
_MIN_LIST_RUN = 3  # list items in a row, none of them links: a list of the article's own


def _prose_of(nodes: list[Node]) -> list[Node]:
    """The prose blocks of ``nodes``, and the items of a run of list items (ingredients,
    steps, facts: link lists were already dropped as link blocks)."""
    keep = [isinstance(n, TextBlock) and is_prose(n) for n in nodes]
    i = 0
    while i < len(nodes):
        j = i
        while j < len(nodes) and isinstance(nodes[j], TextBlock) and nodes[j].kind == "li":
            j += 1
        if j - i >= _MIN_LIST_RUN:
            keep[i:j] = [True] * (j - i)
        i = max(j, i + 1)
    return [n for n, k in zip(nodes, keep) if k]


_CONTAINER_TAGS = frozenset({"p", "div", "section", "article", "body"})


def _context_kind(tag: str) -> str | None:
    """The block kind that text directly inside ``tag`` takes, None when ``tag`` sets none."""
    if tag in _KIND and tag not in ("td", "th"):
        return _KIND[tag]
    return "p" if tag in _CONTAINER_TAGS else None


_CONTEXT_KIND = {t: k for t in (*_KIND, *_CONTAINER_TAGS) if (k := _context_kind(t)) is not None}


@dataclass
class Linearizer:
    """Accumulates nodes for one document; feed it elements with ``walk``.

    The current block is three plain attributes (parts, link characters, kind) rather than
    an object per block: most block boundaries close an empty block, and this loop runs
    once per element of the main content.
    """

    base_url: str
    max_link_density: float = 0.5
    nodes: list[Node] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    seen_urls: set[str] = field(default_factory=set)
    _parts: list[str] = field(default_factory=list)
    _link_chars: int = 0
    _kind: str = "p"
    _link_depth: int = 0
    _prose_only: bool = False  # inside walk_prose: images and figures are skipped unseen

    def _flush(self) -> None:
        if not self._parts:
            return
        joined, link_chars = "".join(self._parts), self._link_chars
        self._parts.clear()  # in place: walk holds the list
        self._link_chars = 0
        if not joined.isascii():
            if _INVISIBLE.search(joined):
                joined = _INVISIBLE.sub("", joined)
            # One spelling per character (composed where Unicode composes): a page's
            # precomposed letters and a query's decomposed ones must compare equal.
            if not unicodedata.is_normalized("NFC", joined):
                joined = unicodedata.normalize("NFC", joined)
        text = joined.strip("\n") if self._kind == "pre" else " ".join(joined.split())
        if not text:
            return
        if self._kind != "heading" and link_chars > self.max_link_density * len(text):
            self.dropped["link_block"] += 1
            return
        self.nodes.append(TextBlock(text=text, kind=self._kind))

    def _image(self, img: HtmlElement, caption: str = "") -> None:
        node, reason = image_node(img, self.base_url)
        if node is not None and node.url in self.seen_urls:
            node, reason = None, "duplicate"
        if node is None:
            self.dropped[reason or "no_src"] += 1
            return
        self.seen_urls.add(node.url)
        node.caption = caption
        self._flush()
        self.nodes.append(node)

    def _figure(self, fig: HtmlElement) -> None:
        caps = [" ".join(text_of(c).split()) for c in fig.iter("figcaption")]
        caption = " ".join(c for c in caps if c)
        self._flush()
        before = len(self.nodes)
        for img in fig.iter("img"):
            self._image(img, caption)
        if caption and len(self.nodes) > before:
            self.nodes.append(TextBlock(text=caption, kind="caption"))

    def walk(self, root: HtmlElement) -> None:
        """Append the nodes of ``root``'s subtree (its tail excluded)."""
        # libxml2 walks the tree (iterwalk: ~2.5x faster than a Python stack of children);
        # on "end" we flush blocks and emit the tail. Tags are read once, on "start". The
        # per-element steps are written out here, not in methods: this loop runs once per
        # element of the content, and a method call per step costs ~15% of extraction.
        walker = etree.iterwalk(root, events=("start", "end"))
        # Kinds set by the open elements, innermost last: the kind a block resumes with
        # after a nested block closes. The bottom entry comes from root's ancestors.
        context = [_ancestor_kind(root)]
        tags: list[str] = []  # tags of the open elements ("" for a comment, an image unit)
        parts = self._parts  # cleared in place by _flush
        for event, el in walker:
            if event == "start":
                tag = el.tag
                if not isinstance(tag, str):  # comment or processing instruction
                    tags.append("")
                    continue
                if tag == "figure" or tag == "img":
                    if not self._prose_only:
                        self._figure(el) if tag == "figure" else self._image(el)
                    walker.skip_subtree()  # its "end" still comes
                    tags.append("")
                    continue
                if tag in _BREAK_TAGS:
                    if parts:
                        self._flush()
                    kind = _KIND.get(tag)
                    if kind is not None:
                        self._kind = kind
                    elif tag in _P_TAGS:
                        self._kind = "p"
                kind = _CONTEXT_KIND.get(tag)
                context.append(context[-1] if kind is None else kind)
                if tag == "a":
                    self._link_depth += 1
                elif tag == "td" or tag == "th":
                    parts.append(" ")
                text = el.text
                if text:
                    parts.append(text)
                    if self._link_depth:
                        self._link_chars += len(text.strip())
                tags.append(tag)
                continue
            tag = tags.pop()
            if tag:
                context.pop()
                if tag == "a":
                    self._link_depth -= 1
                elif tag == "br":
                    parts.append("\n" if self._kind == "pre" else " ")
                if tag in _BREAK_TAGS:
                    if parts:
                        self._flush()
                    self._kind = context[-1]
            if el is not root:
                text = el.tail
                if text:
                    parts.append(text)
                    if self._link_depth:
                        self._link_chars += len(text.strip())

    def walk_prose(self, root: HtmlElement) -> None:
        """Append only the prose of ``root``'s subtree: paragraphs that read as sentences, not
        headlines, bylines, dates, captions or images (for blocks around the main content)."""
        self._flush()
        start = len(self.nodes)
        self._prose_only = True
        try:
            self.walk(root)
            self._flush()
        finally:
            self._prose_only = False
        added = self.nodes[start:]
        if added:
            self.nodes[start:] = _prose_of(added)

    def finish(self) -> list[Node]:
        self._flush()
        return self.nodes


def _ancestor_kind(el: HtmlElement) -> str:
    """The block kind set by ``el``'s nearest ancestor that sets one ("p" when none does)."""
    for anc in el.iterancestors():
        kind = _context_kind(anc.tag)
        if kind is not None:
            return kind
    return "p"
