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


def drop_repeated(element: tuple[str, Iterable[tuple[str, int, ImageOutcome]]],
                  max_docs: int) -> Iterator[tuple[str, tuple[int, ImageOutcome]]]:
    """(phash, [(doc_id, i, outcome)]) -> (doc_id, (i, outcome)), marking an image that appears
    in more than ``max_docs`` documents as ``repeated_image``."""
    phash, refs = element
    refs = list(refs)
    repeated = len({doc_id for doc_id, _, _ in refs}) > max_docs
    for doc_id, i, outcome in refs:
        if repeated:
            outcome = ImageOutcome("repeated_image", outcome.source)
        yield doc_id, (i, outcome)
