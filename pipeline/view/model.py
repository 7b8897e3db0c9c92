"""One sample as the viewer shows it: blocks in reading order (text, images, the model's
``<image>``/``<|endofchunk|>`` marks), image facts, limits and problems. Plain data, no HTML.

Samples the shard format decodes (interleaved, pair) are shown as the model will see them.
Anything else with image members and text (a sample that fails validation, or a kind this
viewer does not know, such as video frames ``KEY.0.jpg … KEY.{T-1}.jpg`` + ``KEY.txt``) is
shown generically: its images in member order, then its text, then its metadata, with the
validator's complaints beside it. Samples the jobs keep of what they dropped
(:mod:`pipeline.dropped`) carry ``extra.dropped``: the stage, the reason and where images
stood whose bytes were not kept.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

from pipeline.shards import format as sf
from pipeline.view import media

_FRAME = re.compile(r"^(\d+)\.(jpg|jpeg|png|webp)$")


@dataclass
class ImageView:
    position: int  # in the sample's images (or frames)
    member: str  # suffix after KEY.: "0.jpg", "jpg"; "" when its bytes were not kept
    width: int | None  # as the bytes say (the header), else as the metadata says
    height: int | None
    alt: str = ""
    url: str = ""
    sha256: str = ""
    nbytes: int = 0
    content_type: str | None = None  # proven by the bytes; None: not shown as an image
    notes: list[str] = field(default_factory=list)


@dataclass
class Block:
    kind: str  # text | image | mark (an <image> or <|endofchunk|> token) | missing (an image not kept)
    text: str = ""
    image: ImageView | None = None


@dataclass
class SampleView:
    key: str
    kind: str
    blocks: list[Block]
    images: list[ImageView]
    url: str = ""
    title: str = ""
    doc_id: str = ""
    seq_index: int | None = None
    num_tokens: int | None = None
    tokenizer: str = ""
    max_tokens: int | None = None
    max_images: int | None = None
    lm_text: str | None = None  # the sequence as language-model text
    meta: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    dropped: dict[str, Any] | None = None
    notice: str = ""  # why the sample is shown generically
    members: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def text(self) -> str:
        return " ".join(b.text for b in self.blocks if b.kind == "text")


def build(key: str, members: dict[str, bytes], problems: list[str] = (), *,
          max_tokens: int | None = sf.MAX_TOKENS, max_images: int | None = sf.MAX_IMAGES) -> SampleView:
    """Members of one sample (suffix -> bytes) and the reader's problems -> what to show."""
    problems = list(problems) + sf.validate(key, members, max_images=None, max_tokens=None, check_images=False)
    sample = None
    if not problems:
        try:
            sample = sf.decode(key, members)
        except sf.ShardFormatError as e:
            problems.append(str(e))
    if isinstance(sample, sf.InterleavedSample):
        view = _interleaved(sample, members)
    elif isinstance(sample, sf.PairSample):
        view = _pair(sample, members)
    else:  # a video clip (frames in time order, then its text), or a sample that does not decode
        view = _generic(key, members)
        if view.kind not in (sf.KIND_INTERLEAVED, sf.KIND_PAIR, sf.KIND_VIDEO, "unknown", "frames") and (
                "json" in members):
            # A kind this version of the format does not decode (e.g. video): not a fault of the
            # sample, so the validator's pair/interleaved complaints are left out.
            problems = [p for p in problems if p.startswith(("member ", "tar ", "key "))]
            view.notice = (f"kind {view.kind!r} is not one this version of the shard format decodes: "
                           "shown as its images in member order, then its text")
    view.problems = problems
    view.max_tokens, view.max_images = max_tokens, max_images
    return view


def _image(position: int, member: str, data: bytes | None, *, width=None, height=None, alt="", url="",
           sha256="") -> ImageView:
    view = ImageView(position, member, width, height, alt or "", url or "", sha256 or "")
    if data is None:
        return view
    view.nbytes, view.content_type = len(data), media.sniff(data)
    real = _header_size(data) if view.content_type else None
    if view.content_type is None:
        view.notes.append("not a JPEG, PNG or WebP image: not shown")
    elif real is None:
        view.notes.append("its header does not decode")
    elif width and height and (width, height) != real:
        view.notes.append(f"metadata says {width}x{height}")
    if real:
        view.width, view.height = real
    return view


def _header_size(data: bytes) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP"]) as im:
            return im.size  # the header only: nothing is decoded
    except Exception:  # noqa: BLE001 (PIL raises many types for corrupt data)
        return None


def _interleaved(s: sf.InterleavedSample, members: dict[str, bytes]) -> SampleView:
    images = [_image(i, f"{i}.{im.ext}", im.data, width=im.width, height=im.height, alt=im.alt, url=im.url,
                     sha256=im.sha256) for i, im in enumerate(s.images)]
    dropped = s.extra.get("dropped") if isinstance(s.extra.get("dropped"), dict) else None
    missing = _missing_images(dropped)
    blocks: list[Block] = []
    seen_image = False
    for n, seg in enumerate(s.segments):
        blocks += missing.get(n, [])
        if isinstance(seg, sf.ImageSlot):
            if seen_image:
                blocks.append(Block("mark", sf.END_OF_CHUNK_TOKEN))
            blocks.append(Block("mark", sf.IMAGE_TOKEN))
            blocks.append(Block("image", image=images[seg.index]))
            seen_image = True
        else:
            blocks.append(Block("text", seg.text))
    blocks += [b for at, bs in missing.items() if at >= len(s.segments) for b in bs]
    if seen_image:
        blocks.append(Block("mark", sf.END_OF_CHUNK_TOKEN))
    meta = json.loads(members["json"])
    kept = dropped is None  # a dropped item was never a sequence: no tokens, no sequence index
    return SampleView(key=s.key, kind=s.kind, blocks=blocks, images=images, url=s.url, doc_id=s.doc_id,
                      seq_index=s.seq_index if kept else None, num_tokens=s.num_tokens if kept else None,
                      tokenizer=s.tokenizer, title=_str(s.extra.get("title")),
                      lm_text=sf.layout_text(s.segments) if kept else None, meta=meta, dropped=dropped,
                      members=members)


def _missing_images(dropped: dict | None) -> dict[int, list[Block]]:
    """Images a dropped sample names but whose bytes were not kept, by the segment they precede."""
    out: dict[int, list[Block]] = {}
    for im in (dropped or {}).get("missing_images") or []:
        if not isinstance(im, dict):
            continue
        at = im.get("at") if isinstance(im.get("at"), int) else 1 << 30
        view = ImageView(-1, "", _int(im.get("width")), _int(im.get("height")), _str(im.get("alt")),
                         _str(im.get("url")))
        out.setdefault(at, []).append(Block("missing", _str(im.get("status")), image=view))
    return out


def _pair(s: sf.PairSample, members: dict[str, bytes]) -> SampleView:
    image = _image(0, s.ext, s.image, width=s.width, height=s.height, alt=s.caption, url=s.url, sha256=s.sha256)
    meta = json.loads(members["json"])
    page = s.extra.get("page_url")
    return SampleView(key=s.key, kind=s.kind, blocks=[Block("image", image=image), Block("text", s.caption)],
                      images=[image], url=page if isinstance(page, str) and page else s.url, meta=meta,
                      dropped=s.extra.get("dropped") if isinstance(s.extra.get("dropped"), dict) else None,
                      members=members)


def _generic(key: str, members: dict[str, bytes]) -> SampleView:
    """Images in member order (``jpg`` first, then ``0.jpg``, ``1.jpg``… by number), then text."""
    names = sorted((m for m in members if m.rsplit(".", 1)[-1].lower() in sf.IMAGE_EXTS),
                   key=lambda m: (int(_FRAME.match(m).group(1)) if _FRAME.match(m) else -1, m))
    images = [_image(i, m, members[m]) for i, m in enumerate(names)]
    blocks = [Block("image", image=im) for im in images]
    if "txt" in members:
        blocks.append(Block("text", members["txt"].decode("utf-8", "replace")))
    try:
        meta = json.loads(members["json"]) if "json" in members else {}
    except ValueError:
        meta = {"unreadable json": members["json"][:2000].decode("utf-8", "replace")}
    meta = meta if isinstance(meta, dict) else {"json": meta}
    kind = meta.get("kind") if isinstance(meta.get("kind"), str) else ("frames" if len(images) > 1 else "unknown")
    return SampleView(key=key, kind=kind, blocks=blocks, images=images, url=_str(meta.get("url")),
                      doc_id=_str(meta.get("doc_id")), meta=meta, members=members)


def _str(v) -> str:
    return v if isinstance(v, str) else ""


def _int(v) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None
