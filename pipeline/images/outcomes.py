"""What happened to each image reference of the kept documents, as plain data (no Beam).

The job fetches each image URL once and gives every reference to it the same
:class:`ImageOutcome` (metadata only: the bytes stay in the job's blob store); then images
that repeat across too many documents (logos, banners, share buttons) are marked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ImageOutcome:
    status: str  # "ok" or the snake_case reason the image was refused
    source: str = ""  # "crawl" or "http"
    sha256: str = ""
    width: int = 0
    height: int = 0
    phash: str = ""
    ext: str = "jpg"
    original_width: int = 0
    original_height: int = 0


def outcome_of(result) -> ImageOutcome:
    """An :class:`~pipeline.images.records.ImageResult` -> its outcome, without the bytes."""
    if result.status != "ok":
        return ImageOutcome(result.status, result.source)
    return ImageOutcome("ok", result.source, result.sha256, result.width, result.height, result.phash,
                        result.ext, result.original_width, result.original_height)


def image_refs(element: tuple[str, Any]) -> Iterator[tuple[str, tuple[str, int, str]]]:
    """(doc_id, doc) -> (image url, (doc_id, position, page url)) for each image node; none
    for a page that opted out of image use (``noimageai``)."""
    doc_id, doc = element
    if "noimageai" in doc.opt_out:
        return
    for i, node in enumerate(doc.images):
        yield node.url, (doc_id, i, doc.url)


def capped_union(sets: Iterable[Iterable[str]], cap: int) -> frozenset[str]:
    """The union of ``sets``, but no more than ``cap`` members: enough to tell whether an
    image is in more than ``cap - 1`` documents without holding every document of a logo
    that is on a million pages."""
    out: set[str] = set()
    for s in sets:
        for d in s:
            if len(out) >= cap:
                return frozenset(out)
            out.add(d)
    return frozenset(out)


def mark_repeated(element: tuple[str, Iterable[tuple[str, ImageOutcome, frozenset[str]]]],
                  max_docs: int) -> Iterator[tuple[str, ImageOutcome]]:
    """(perceptual hash, [(url, outcome, documents using the url, capped)]) -> (url, outcome),
    every URL of an image that appears in more than ``max_docs`` documents marked
    ``repeated_image``.

    Two passes over the grouped values and a set of at most ``max_docs + 1`` documents: a hash
    shared by a million URLs (a logo with a cache-busting query) streams through in bounded
    memory, as runners may stream a large group from disk.
    """
    _, members = element
    docs = capped_union((d for _, _, d in members), max_docs + 1)
    repeated = len(docs) > max_docs
    for url, outcome, _ in members:
        yield url, ImageOutcome("repeated_image", outcome.source) if repeated else outcome
