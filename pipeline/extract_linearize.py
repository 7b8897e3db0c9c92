"""Walk the main-content elements into ordered text blocks and images.

One iterative pass (explicit stack, no recursion, so depth costs nothing):
text accumulates into the current block and is flushed at block-level
boundaries; an ``<img>`` flushes the text before it and becomes an image
node in place; a ``<figure>``'s ``<figcaption>`` becomes the caption of the
figure's images and a caption block right after them. Link-dominated blocks
("Read more: ...", lists of related links) are dropped here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pipeline.extract_dom import HtmlElement, text_of

from pipeline.document import ImageNode, Node, TextBlock
from pipeline.extract_boilerplate import BLOCK_TAGS
from pipeline.extract_images import image_node

_KIND = {"h1": "heading", "h2": "heading", "h3": "heading", "h4": "heading", "h5": "heading",
         "h6": "heading", "li": "li", "dt": "li", "dd": "li", "td": "table", "th": "table",
         "tr": "table", "blockquote": "quote", "pre": "pre", "figcaption": "caption"}
# Cells join into their row's block; every other block-level tag starts a new block.
_BREAK_TAGS = (BLOCK_TAGS - {"td", "th"}) | {"figure", "picture", "caption"}


@dataclass
class _Block:
    parts: list[str] = field(default_factory=list)
    link_chars: int = 0
    kind: str = "p"


@dataclass
class Linearizer:
    """Accumulates nodes for one document; feed it elements with ``walk``."""

    base_url: str
    max_link_density: float = 0.5
    nodes: list[Node] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    seen_urls: set[str] = field(default_factory=set)
    _block: _Block = field(default_factory=_Block)
    _link_depth: int = 0

    def _text(self, s: str | None) -> None:
        if s:
            self._block.parts.append(s)
            if self._link_depth:
                self._block.link_chars += len(s.strip())

    def _flush(self) -> None:
        block, self._block = self._block, _Block(kind=self._block.kind)
        if block.kind == "pre":
            text = "".join(block.parts).strip("\n")
        else:
            text = " ".join("".join(block.parts).split())
        if not text:
            return
        if block.kind != "heading" and block.link_chars > self.max_link_density * len(text):
            self.dropped["link_block"] += 1
            return
        self.nodes.append(TextBlock(text=text, kind=block.kind))

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
        # Stack items: (element, entering) — on exit we flush blocks and emit the tail.
        stack: list[tuple[HtmlElement, bool]] = [(root, True)]
        while stack:
            el, entering = stack.pop()
            tag = el.tag if isinstance(el.tag, str) else ""
            if not entering:
                self._leave(el, tag)
                if el is not root:
                    self._text(el.tail)
                continue
            if tag in ("figure", "img"):
                self._figure(el) if tag == "figure" else self._image(el)
                if el is not root:
                    self._text(el.tail)
                continue
            if not tag:  # comment or processing instruction left by the parser
                if el is not root:
                    self._text(el.tail)
                continue
            self._enter(el, tag)
            stack.append((el, False))
            stack.extend((child, True) for child in reversed(el))

    def _enter(self, el: HtmlElement, tag: str) -> None:
        if tag in _BREAK_TAGS:
            self._flush()
            if tag in _KIND:
                self._block.kind = _KIND[tag]
            elif tag in ("p", "div", "section", "article"):
                self._block.kind = "p"
        if tag == "a":
            self._link_depth += 1
        elif tag in ("td", "th"):
            self._text(" ")
        self._text(el.text)

    def _leave(self, el: HtmlElement, tag: str) -> None:
        if tag == "a":
            self._link_depth -= 1
        elif tag == "br":
            self._text("\n" if self._block.kind == "pre" else " ")
        if tag in _BREAK_TAGS:
            self._flush()
            self._block.kind = _KIND.get(self._parent_kind(el), "p")

    def _parent_kind(self, el: HtmlElement) -> str:
        for anc in el.iterancestors():
            if anc.tag in _KIND and anc.tag not in ("td", "th"):
                return anc.tag
            if anc.tag in ("p", "div", "section", "article", "body"):
                return "p"
        return "p"

    def finish(self) -> list[Node]:
        self._flush()
        return self.nodes
