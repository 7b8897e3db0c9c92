"""The extracted web document: ordered text blocks and images plus page metadata.

Pure dataclasses with no heavy imports, so every stage (extraction, filters,
sequence building, the CLI) can share one shape. ``to_json``/``from_json`` give
a JSON-safe round trip; the classes are also plain-picklable for Beam.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

TEXT_KINDS = frozenset({"p", "heading", "li", "table", "quote", "caption", "pre"})
OPT_OUT_SIGNALS = frozenset({"noai", "noimageai", "noindex"})


@dataclass
class TextBlock:
    """One block of running text (paragraph, heading, list item, ...)."""

    text: str
    kind: str = "p"


@dataclass
class ImageNode:
    """An image where it stands in the text; width/height are the declared ones."""

    url: str
    alt: str = ""
    caption: str = ""
    width: int | None = None
    height: int | None = None


Node = TextBlock | ImageNode


@dataclass
class Document:
    """A page's main content in reading order, with its metadata."""

    url: str
    nodes: list[Node]
    title: str = ""
    lang: str | None = None
    canonical_url: str | None = None
    opt_out: frozenset[str] = frozenset()
    dropped_images: dict[str, int] = field(default_factory=dict)
    # Which extraction method produced the nodes: "main" (scored main content), "fallback"
    # (a looser second selection), "schema_org" (the page's JSON-LD articleBody).
    method: str = "main"

    @property
    def text(self) -> str:
        return "\n\n".join(n.text for n in self.nodes if isinstance(n, TextBlock))

    @property
    def images(self) -> list[ImageNode]:
        return [n for n in self.nodes if isinstance(n, ImageNode)]

    def to_json(self) -> dict[str, Any]:
        nodes = []
        for n in self.nodes:
            if isinstance(n, TextBlock):
                nodes.append({"type": "text", **asdict(n)})
            else:
                nodes.append({"type": "image", **asdict(n)})
        return {
            "url": self.url,
            "title": self.title,
            "lang": self.lang,
            "canonical_url": self.canonical_url,
            "opt_out": sorted(self.opt_out),
            "dropped_images": dict(self.dropped_images),
            "method": self.method,
            "nodes": nodes,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Document:
        nodes: list[Node] = []
        for raw in d.get("nodes", []):
            fields = {k: v for k, v in raw.items() if k != "type"}
            nodes.append(TextBlock(**fields) if raw["type"] == "text" else ImageNode(**fields))
        return cls(
            url=d["url"],
            nodes=nodes,
            title=d.get("title", ""),
            lang=d.get("lang"),
            canonical_url=d.get("canonical_url"),
            opt_out=frozenset(d.get("opt_out", ())),
            dropped_images=dict(d.get("dropped_images", {})),
            method=d.get("method", "main"),
        )
