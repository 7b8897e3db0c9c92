"""What the jobs' stages dropped, as small records and then as samples a person can look at.

Every drop is counted by reason; this keeps a few of them to look at. A stage's drop becomes
a :class:`DroppedItem` (metadata and text only, bounded in size; image bytes stay in the
job's blob store and are named by blob). The Beam layer (:mod:`pipeline.beam.dropped`) keeps
the ``k`` items of each (stage, reason) whose :func:`rank` is smallest — a deterministic,
evenly spread choice that does not depend on worker count or bundle order — and writes
them with :func:`to_sample` as an ordinary interleaved shard in ``OUTPUT/dropped/``, which
``flamingo view``, ``flamingo inspect`` and the HTML report read.

A dropped sample's ``extra.dropped`` holds the stage, the reason, a detail and the images
whose bytes were not kept (``missing_images``: where each stood, its URL, alt text and why
it is missing), so they are shown in place. Pages that opted out (``noai``) are never kept
here: their content must not be stored. No Beam.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pipeline.shards import format as sf

MAX_TEXT_CHARS = 20_000  # of a dropped document's text
MAX_NODES = 400


@dataclass(frozen=True)
class ImageNote:
    url: str
    alt: str = ""
    blob: str = ""  # name in the job's blob store ("SHA256.EXT"), "" when no bytes were kept
    width: int = 0
    height: int = 0
    status: str = ""  # why this image was not kept ("" when it was)


@dataclass(frozen=True)
class DroppedItem:
    stage: str  # a counter namespace: filter, images, image_refs, documents, captions, pairs
    reason: str  # the counter name the drop was counted under
    identity: str  # what the choice hashes (a page URL, an image URL or hash, a pair key)
    url: str = ""  # the page (documents) or the image (images, pairs)
    detail: str = ""
    title: str = ""
    nodes: tuple = ()  # str (text) or ImageNote, in reading order


def rank(item: DroppedItem) -> str:
    """The sort key that picks which drops of a reason are kept: a stable hash, so the choice
    is spread over the data and the same on every run and every runner."""
    return hashlib.sha256(f"{item.stage}\0{item.reason}\0{item.identity}".encode()).hexdigest()


def from_document(stage: str, reason: str, doc, statuses: dict[int, str] | None = None) -> DroppedItem:
    """A :class:`pipeline.document.Document` dropped by ``stage``; ``statuses`` gives the fate of
    its images by position (documents dropped because none of their images survived)."""
    from pipeline.document import ImageNode

    nodes: list = []
    chars, position = 0, 0
    for node in doc.nodes[:MAX_NODES]:
        if isinstance(node, ImageNode):
            status = (statuses or {}).get(position, "not_fetched")
            nodes.append(ImageNote(node.url, node.alt or node.caption, "", node.width or 0, node.height or 0, status))
            position += 1
        elif chars < MAX_TEXT_CHARS:
            text = node.text[: MAX_TEXT_CHARS - chars]
            chars += len(text)
            nodes.append(text)
    return DroppedItem(stage, reason, doc.url, doc.url, title=doc.title or "", nodes=tuple(nodes))


def from_image(url: str, outcome) -> DroppedItem:
    """An image URL the image stage refused: ``(url, ImageOutcome)`` as the fetch emits it."""
    blob = f"{outcome.sha256}.{outcome.ext}" if outcome.sha256 else ""
    note = ImageNote(url, "", blob, outcome.width, outcome.height, outcome.status)
    return DroppedItem("images", outcome.status, url, url, nodes=(note,))


def from_repeated(phash: str, outcome, documents: int) -> DroppedItem:
    """An image whose perceptual hash is in too many documents (a logo, a banner): its bytes are
    in the store (it was fetched fine), its URL is not known at this point."""
    note = ImageNote("", "", f"{outcome.sha256}.{outcome.ext}", outcome.width, outcome.height, "repeated_image")
    return DroppedItem("image_refs", "repeated_image", phash or outcome.sha256,
                       detail=f"this image (perceptual hash {phash}) appears in {documents} documents", nodes=(note,))


def from_pair(stage: str, reason: str, rec) -> DroppedItem:
    """A pair candidate (``pipeline.pairs.records.PairRecord``) dropped by ``stage``."""
    blob = f"{rec.sha256}.{rec.ext}" if rec.sha256 else ""
    options = getattr(rec, "caption_options", ()) or ()
    caption = rec.caption or (options[0] if options else "")
    note = ImageNote(rec.url, caption, blob, rec.width, rec.height, reason)
    detail = rec.error or ""
    if getattr(rec, "page_url", None):
        detail = f"{detail} (page {rec.page_url})".strip()
    return DroppedItem(stage, reason, rec.key or rec.url, rec.url, detail=detail, nodes=(note, caption))


def to_sample(item: DroppedItem, load: Callable[[str], bytes | None]) -> sf.InterleavedSample:
    """The item as an interleaved sample; ``load(blob)`` gives image bytes (None: not kept).
    At most :data:`~pipeline.shards.format.MAX_IMAGES` images are stored, the rest are named."""
    segments: list[sf.Segment] = []
    images: list[sf.ImageRef] = []
    missing: list[dict] = []
    after_text = False  # blocks of text with no image between them join into one segment
    for node in item.nodes:
        if isinstance(node, str):
            if after_text:
                segments[-1] = sf.TextSegment(segments[-1].text + "\n\n" + node)
            elif node:
                segments.append(sf.TextSegment(node))
                after_text = True
            continue
        after_text = False
        ext = node.blob.rsplit(".", 1)[-1].lower() if node.blob else ""
        data = load(node.blob) if node.blob and ext in sf.IMAGE_EXTS and len(images) < sf.MAX_IMAGES else None
        if data:
            images.append(sf.ImageRef(node.url, sf.sha256_hex(data), node.width, node.height, node.alt, ext, data))
            segments.append(sf.ImageSlot(len(images) - 1))
        else:
            missing.append({"at": len(segments), "url": node.url, "alt": node.alt, "width": node.width,
                            "height": node.height, "status": node.status or "bytes not kept"})
    extra = {"dropped": {"stage": item.stage, "reason": item.reason, "detail": item.detail,
                         "missing_images": missing}}
    if item.title:
        extra["title"] = item.title
    return sf.InterleavedSample(key=sf.make_key("dropped", item.stage, item.reason, item.identity), url=item.url,
                                doc_id="", seq_index=0, num_tokens=0, tokenizer="", segments=segments,
                                images=images, extra=extra)


def ordered(chosen: Iterable[tuple[tuple[str, str], list[tuple[str, DroppedItem]]]]) -> list[DroppedItem]:
    """``((stage, reason), [(rank, item)])`` groups -> items by stage, reason and rank."""
    flat = [(stage, reason, r, item) for (stage, reason), items in chosen for r, item in items]
    return [item for *_, item in sorted(flat, key=lambda t: t[:3])]
