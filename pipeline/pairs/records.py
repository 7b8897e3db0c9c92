"""Pair candidates and their fates, as plain data: the pure half of the pairs job.

A *candidate* is one (image URL, caption) row: an image on a crawled page with its
alt text, or a row of a URL list. It travels through the job as a small
:class:`PairRecord` (no image bytes; those live in the blob store) whose ``status``
is ``"success"`` or the snake_case reason it was dropped. Every candidate that
reached the download stage lands in exactly one shard, so each shard's
``NAME_stats.json`` accounts for its rows the way img2dataset's does. No Beam here.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from pipeline.shards import format as sf

SUCCESS = "success"
# Image statuses that mean "downloaded but refused by decoding/size checks":
# img2dataset counts those as failed_to_resize, everything else as failed_to_download.
RESIZE_FAILURES = frozenset(
    {"too_small", "bad_aspect_ratio", "decode_error", "truncated", "not_an_image", "decompression_bomb",
     "failed_to_resize"}
)


@dataclass
class PairRecord:
    key: str
    url: str
    caption: str
    status: str = SUCCESS
    error: str = ""
    page_url: str | None = None
    sha256: str = ""
    ext: str = "jpg"
    width: int = 0
    height: int = 0
    original_width: int = 0
    original_height: int = 0
    clip_score: float | None = None
    extra: dict = field(default_factory=dict)
    # Before the caption rules choose: the texts to choose from, in order, and the page's
    # declared language (a crawl candidate's alt text and figure caption).
    caption_options: tuple[str, ...] = ()
    page_lang: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == SUCCESS

    def failed(self, status: str, error: str = "") -> PairRecord:
        return replace(self, status=status, error=error)


# A fetch reference: what FetchImagesFn groups under one URL. Strings only, so refs sort;
# position 2 is the referer page, as pipeline.beam.images expects.
Ref = tuple[str, str, str, str]


def to_ref(rec: PairRecord) -> Ref:
    return rec.key, rec.caption, rec.page_url or "", json.dumps(rec.extra, sort_keys=True)


def from_ref(url: str, ref: Ref) -> PairRecord:
    key, caption, page_url, extra = ref
    return PairRecord(key=key, url=url, caption=caption, page_url=page_url or None, extra=json.loads(extra))


def with_outcome(rec: PairRecord, outcome) -> PairRecord:
    """Apply an image outcome (``pipeline.images.outcomes.ImageOutcome``) to a candidate."""
    if outcome.status != "ok":
        return rec.failed(outcome.status)
    return replace(rec, sha256=outcome.sha256, ext=outcome.ext, width=outcome.width, height=outcome.height,
                   original_width=outcome.original_width or outcome.width,
                   original_height=outcome.original_height or outcome.height)


CAPTION_SOURCES = ("alt", "figcaption")


def crawl_candidates(doc, sources: tuple[str, ...] = ("alt",)) -> list[PairRecord]:
    """Document -> a candidate per image with its caption options (``sources`` in order: alt
    text, figure caption) for the caption rules to choose from; none for a page that opted
    out of image use (``noimageai``)."""
    if "noimageai" in doc.opt_out:
        return []
    return [PairRecord(key=sf.make_key(doc.url, i), url=node.url, caption="", page_url=doc.url,
                       caption_options=tuple((node.alt if s == "alt" else node.caption) or "" for s in sources),
                       page_lang=doc.lang)
            for i, node in enumerate(doc.images)]


def dedup_group(records: Iterable[PairRecord]) -> Iterator[PairRecord]:
    """Records with one (image sha256, caption): the smallest key stays, the rest are duplicates.

    Two passes over ``records`` (a runner's grouped values), never a list of them: a popular
    image with a popular caption streams through in bounded memory.
    """
    smallest = min((r.key for r in records), default=None)
    for r in records:
        yield r if r.key == smallest else r.failed("duplicate_pair", f"same image and caption as {smallest}")


EMPTY_EXIF = "{}"


def to_sample(rec: PairRecord, image: bytes) -> sf.PairSample:
    """A successful record and its bytes -> the shard format's pair sample."""
    extra = {
        **rec.extra,
        "original_width": rec.original_width,
        "original_height": rec.original_height,
        # Stripped by the image processor (privacy: GPS tags). An empty JSON object, as
        # img2dataset writes for an image without tags: the same type (a JSON string) as its
        # ``exif``, so our shards and img2dataset's load together in Hugging Face datasets.
        "exif": EMPTY_EXIF,
    }
    if rec.page_url:
        extra["page_url"] = rec.page_url
    if rec.clip_score is not None:
        extra["clip_score"] = rec.clip_score
    return sf.PairSample(key=rec.key, url=rec.url, caption=rec.caption, image=image, width=rec.width,
                         height=rec.height, sha256=rec.sha256, ext=rec.ext, extra=extra)


def shard_stats(records: list[PairRecord], start_time: float, end_time: float) -> dict:
    """img2dataset's per-shard stats: count, successes, failed_to_download/resize, status_dict.

    Our extra field ``filtered`` counts rows whose image was fine but which a later
    rule dropped (duplicate pair, CLIP score); img2dataset has no such stage.
    """
    statuses = Counter(r.status for r in records)
    resize = sum(n for s, n in statuses.items() if s in RESIZE_FAILURES)
    filtered = sum(n for s, n in statuses.items() if s in FILTER_STATUSES)
    successes = statuses.get(SUCCESS, 0)
    return {
        "count": len(records),
        "successes": successes,
        "failed_to_download": len(records) - successes - resize - filtered,
        "failed_to_resize": resize,
        "filtered": filtered,
        "duration": end_time - start_time,
        "start_time": start_time,
        "end_time": end_time,
        "status_dict": dict(sorted(statuses.items())),
    }


FILTER_STATUSES = frozenset({"duplicate_pair", "clip_score_below_threshold", "clip_score_not_top_fraction"})
