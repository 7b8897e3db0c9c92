"""The shard format: sample types, keys, tar members, validation and streaming reads.

This is the one module that knows member names and JSON field names. Every writer
(corpus job, pairs job) and every reader (`flamingo inspect`, the trainer) goes
through it. It imports neither Beam nor torch: stdlib, plus PIL inside the
validator only.

Three sample kinds share a webdataset tar layout (members grouped by the key
before the first dot):

* interleaved (an M3W-style sequence): ``KEY.json`` holds text segments and image
  slots in reading order; images are separate members ``KEY.0.jpg``, ``KEY.1.jpg``…
* pair: img2dataset's layout, ``KEY.jpg`` + ``KEY.txt`` (caption) + ``KEY.json``,
  so shards that img2dataset writes are read too.
* video: frames ``KEY.0.jpg`` … ``KEY.{T-1}.jpg`` in time order + ``KEY.txt`` (the text
  about the clip) + ``KEY.json`` (``kind: "video"``, the frames' hashes, ``fps``).

An interleaved sequence's ``num_tokens`` is exact for training: it is the length of
:func:`sequence_token_ids` (BOS where the tokenizer adds one, the layout, EOS) with the
tokenizer that ``tokenizer`` names and fingerprints (:func:`tokenizer_id`). The corpus job
counts with it and the trainer feeds it, so the two cannot disagree.

Reading never extracts to disk and never unpickles: only regular members with
allow-listed extensions are accepted.

This module is longer than the house's ~300 lines on purpose: it is the single owner of
every member and field name (types, encoding, validation), and splitting it would spread
those names over several files. Streaming reads live in :mod:`pipeline.shards.reader`.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Union

SCHEMA_VERSION = 1
KIND_INTERLEAVED = "interleaved"
KIND_PAIR = "pair"
KIND_VIDEO = "video"
MAX_IMAGES = 5  # Flamingo's M3W: at most 5 images per sequence
MAX_TOKENS = 256
# How a sequence reads as language-model text (Flamingo / OpenFlamingo): an image
# token where each image stands, an end-of-chunk token closing the text after it.
# flamingo.tokens declares the same strings (flamingo never imports pipeline); a test
# keeps them equal.
IMAGE_TOKEN = "<image>"
END_OF_CHUNK_TOKEN = "<|endofchunk|>"

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
_KEY_RE = re.compile(r"^[0-9A-Za-z_\-]+$")  # no dots: webdataset splits at the first dot
_IMAGE_MEMBER_RE = re.compile(r"^(\d+)\.(jpg|jpeg|png|webp)$")
MAX_FRAMES = 256  # frames per video sample the reader accepts
# Extensions we read. Anything else (.pyd, .pth, .pickle, .npy, …) is refused, never decoded.
ALLOWED_SUFFIXES = {"json", "txt", *IMAGE_EXTS}
# img2dataset may write these beside a pair; harmless metadata, read as text.
_PAIR_EXTRA_TEXT = {"txt", "json"}


class ShardFormatError(ValueError):
    """A sample or shard does not follow the format; the message says why."""


# --------------------------------------------------------------------------- types


@dataclass
class ImageRef:
    """One image of an interleaved sample. ``data`` is the stored file's bytes."""

    url: str
    sha256: str
    width: int
    height: int
    alt: str = ""
    ext: str = "jpg"
    data: bytes | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class TextSegment:
    text: str


@dataclass
class ImageSlot:
    index: int  # position in InterleavedSample.images


Segment = Union[TextSegment, ImageSlot]


@dataclass
class InterleavedSample:
    """An M3W-style sequence: text and images in reading order."""

    key: str
    url: str
    doc_id: str
    seq_index: int
    num_tokens: int
    tokenizer: str
    segments: list[Segment]
    images: list[ImageRef]
    extra: dict[str, Any] = field(default_factory=dict)
    kind: str = KIND_INTERLEAVED

    def text(self, image_marker: str = "") -> str:
        out = []
        for seg in self.segments:
            out.append(seg.text if isinstance(seg, TextSegment) else image_marker)
        return "".join(out)


@dataclass
class PairSample:
    """An image-text pair in img2dataset's layout."""

    key: str
    url: str
    caption: str
    image: bytes = field(repr=False)
    width: int
    height: int
    sha256: str
    ext: str = "jpg"
    extra: dict[str, Any] = field(default_factory=dict)
    kind: str = KIND_PAIR


@dataclass
class VideoSample:
    """A clip as frames in time order (JPEG/PNG/WEBP members) and the text about it."""

    key: str
    url: str
    caption: str
    frames: list[ImageRef]  # url unused (""); sha256, size and bytes of each frame
    fps: float | None = None  # frames per second of the stored frames, when known
    extra: dict[str, Any] = field(default_factory=dict)
    kind: str = KIND_VIDEO

    @property
    def width(self) -> int:  # the clip's frame size (of its first frame), as a pair's image has one
        return self.frames[0].width if self.frames else 0

    @property
    def height(self) -> int:
        return self.frames[0].height if self.frames else 0


Sample = Union[InterleavedSample, PairSample, VideoSample]


def layout_text(segments: Iterable[Segment]) -> str:
    """``text0<image>text1<|endofchunk|><image>text2<|endofchunk|>``: the LM's view of a sequence."""
    out: list[str] = []
    seen_image = False
    for seg in segments:
        if isinstance(seg, ImageSlot):
            if seen_image:
                out.append(END_OF_CHUNK_TOKEN)
            out.append(IMAGE_TOKEN)
            seen_image = True
        else:
            out.append(seg.text)
    if seen_image:
        out.append(END_OF_CHUNK_TOKEN)
    return "".join(out)


def sequence_token_ids(segments: Iterable[Segment], encode, *, image: int, end_of_chunk: int, eos: int,
                       bos: int | None = None) -> list[int]:
    """The token ids a sequence trains on: ``[bos] + layout + [eos]``, the layout as in
    :func:`layout_text` with the two markers as single ids.

    Each text segment is encoded on its own (``encode``: text -> ids, no special tokens), so
    the length does not change when images move between segments (the trainer's
    image-placement augmentation) and is the sum the corpus job budgets with.
    """
    ids: list[int] = [] if bos is None else [bos]
    seen_image = False
    for seg in segments:
        if isinstance(seg, ImageSlot):
            if seen_image:
                ids.append(end_of_chunk)
            ids.append(image)
            seen_image = True
        elif seg.text:
            ids.extend(encode(seg.text))
    if seen_image:
        ids.append(end_of_chunk)
    ids.append(eos)
    return ids


def encode_text(tokenizer: Any, text: str) -> list[int]:
    """A Hugging Face tokenizer's ids for plain text: no BOS/EOS, and a literal ``<image>``
    in web text stays text (it must never become an image token without an image)."""
    return tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]


def bos_token_id(tokenizer: Any) -> int | None:
    """The BOS id where the tokenizer adds one by default (LLaMA, Mistral), else None (GPT-2
    style tokenizers such as SmolLM2's): BOS exactly where the LM was trained with it."""
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return None
    ids = tokenizer("a")["input_ids"]
    return bos if ids[:1] == [bos] else None


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """12 hex digits naming how a tokenizer splits text: its rules (vocabulary, merges,
    normaliser, pre-tokeniser, post-processor) without the tokens added on top (``<image>``,
    ``<|endofchunk|>``, ``<pad>``), plus its BOS rule. Equal fingerprints count alike."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        rules = json.loads(backend.to_str())
        rules.pop("added_tokens", None)
    else:  # a slow tokenizer: its vocabulary is what we can see
        rules = {"class": type(tokenizer).__name__, "vocab": sorted(tokenizer.get_vocab().items())}
    rules["bos"] = bos_token_id(tokenizer)
    return hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()[:12]


def tokenizer_id(name: str, tokenizer: Any) -> str:
    """The ``tokenizer`` field of an interleaved sample: ``NAME@FINGERPRINT``."""
    return f"{name}@{tokenizer_fingerprint(tokenizer)}"


def fingerprint_of(tokenizer_field: str) -> str | None:
    """The fingerprint part of a ``tokenizer`` field (None for shards written before it)."""
    name, sep, fp = tokenizer_field.rpartition("@")
    return fp if sep and name and re.fullmatch(r"[0-9a-f]{12}", fp) else None


# ---------------------------------------------------------------------------- keys


def make_key(*parts: object) -> str:
    """Stable lowercase-hex key from e.g. (document URL, sequence index). 128 bits."""
    h = hashlib.sha256("\x00".join(str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:32]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_key(key: str) -> None:
    if not key or not _KEY_RE.match(key):
        raise ShardFormatError(f"invalid key {key!r}: use letters, digits, '_' or '-' only (no dots)")


# ------------------------------------------------------------------------ encoding


def encode(sample: Sample) -> list[tuple[str, bytes]]:
    """Sample -> ordered tar members ``(name, bytes)``. Member order is fixed."""
    check_key(sample.key)
    if isinstance(sample, InterleavedSample):
        return _encode_interleaved(sample)
    if isinstance(sample, PairSample):
        return _encode_pair(sample)
    if isinstance(sample, VideoSample):
        return _encode_video(sample)
    raise TypeError(f"not a sample: {type(sample).__name__}")


def _encode_interleaved(s: InterleavedSample) -> list[tuple[str, bytes]]:
    segments = [
        {"text": seg.text} if isinstance(seg, TextSegment) else {"image": seg.index}
        for seg in s.segments
    ]
    images = []
    members: list[tuple[str, bytes]] = []
    for i, img in enumerate(s.images):
        if img.data is None:
            raise ShardFormatError(f"{s.key}: image {i} has no bytes to write")
        ext = img.ext.lower()
        if ext not in IMAGE_EXTS:
            raise ShardFormatError(f"{s.key}: image {i} has unsupported extension {ext!r}")
        images.append(
            {
                "url": img.url,
                "sha256": img.sha256,
                "width": img.width,
                "height": img.height,
                "alt": img.alt,
                "member": f"{i}.{ext}",
                **({"extra": img.extra} if img.extra else {}),
            }
        )
        members.append((f"{s.key}.{i}.{ext}", img.data))
    meta = {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND_INTERLEAVED,
        "key": s.key,
        "url": s.url,
        "doc_id": s.doc_id,
        "seq_index": s.seq_index,
        "num_tokens": s.num_tokens,
        "tokenizer": s.tokenizer,
        "segments": segments,
        "images": images,
        **({"extra": s.extra} if s.extra else {}),
    }
    return [(f"{s.key}.json", _dump_json(meta)), *members]


def _encode_pair(s: PairSample) -> list[tuple[str, bytes]]:
    ext = s.ext.lower()
    if ext not in IMAGE_EXTS:
        raise ShardFormatError(f"{s.key}: unsupported image extension {ext!r}")
    # img2dataset's per-sample JSON fields first, ours after.
    meta = {
        "url": s.url,
        "caption": s.caption,
        "key": s.key,
        "status": "success",
        "error_message": None,
        "width": s.width,
        "height": s.height,
        "sha256": s.sha256,
        **s.extra,
        "schema_version": SCHEMA_VERSION,
        "kind": KIND_PAIR,
    }
    return [
        (f"{s.key}.{ext}", s.image),
        (f"{s.key}.json", _dump_json(meta)),
        (f"{s.key}.txt", s.caption.encode("utf-8")),
    ]


def _encode_video(s: VideoSample) -> list[tuple[str, bytes]]:
    frames, members = [], []
    for i, fr in enumerate(s.frames):
        ext = fr.ext.lower()
        if fr.data is None or ext not in IMAGE_EXTS:
            raise ShardFormatError(f"{s.key}: frame {i} has no bytes or an unsupported extension {ext!r}")
        frames.append({"member": f"{i}.{ext}", "sha256": fr.sha256, "width": fr.width, "height": fr.height})
        members.append((f"{s.key}.{i}.{ext}", fr.data))
    meta = {"schema_version": SCHEMA_VERSION, "kind": KIND_VIDEO, "key": s.key, "url": s.url,
            "num_frames": len(frames), "fps": s.fps, "frames": frames, **({"extra": s.extra} if s.extra else {})}
    return [(f"{s.key}.json", _dump_json(meta)), (f"{s.key}.txt", s.caption.encode("utf-8")), *members]


def _dump_json(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=False, separators=(",", ":")).encode()


# ------------------------------------------------------------------------ decoding


def decode(key: str, members: dict[str, bytes]) -> Sample:
    """Members of one sample (suffix after ``KEY.`` -> bytes) -> a sample.

    Raises ShardFormatError with every problem found (see :func:`validate`).
    """
    problems = validate(key, members, check_images=False)
    if problems:
        raise ShardFormatError("; ".join(problems))
    meta = json.loads(members["json"])
    if _is_interleaved(meta):
        segments: list[Segment] = [
            TextSegment(seg["text"]) if "text" in seg else ImageSlot(int(seg["image"]))
            for seg in meta["segments"]
        ]
        images = [
            ImageRef(
                url=im.get("url", ""),
                sha256=im.get("sha256", ""),
                width=int(im.get("width") or 0),
                height=int(im.get("height") or 0),
                alt=im.get("alt") or "",
                ext=im["member"].split(".", 1)[1],
                data=members[im["member"]],
                extra=im.get("extra", {}),
            )
            for im in meta["images"]
        ]
        return InterleavedSample(
            key=key,
            url=meta.get("url", ""),
            doc_id=meta.get("doc_id", ""),
            seq_index=int(meta.get("seq_index", 0)),
            num_tokens=int(meta.get("num_tokens", 0)),
            tokenizer=meta.get("tokenizer", ""),
            segments=segments,
            images=images,
            extra=meta.get("extra", {}),
        )
    if _is_video(meta):
        frames = [
            ImageRef(url="", sha256=fr.get("sha256", ""), width=int(fr.get("width") or 0),
                     height=int(fr.get("height") or 0), ext=fr["member"].split(".", 1)[1], data=members[fr["member"]])
            for fr in meta["frames"]
        ]
        return VideoSample(key=key, url=meta.get("url", ""), caption=members["txt"].decode("utf-8"), frames=frames,
                           fps=meta.get("fps"), extra=meta.get("extra", {}))
    ext = _pair_image_ext(members)
    known = {"url", "caption", "key", "width", "height", "sha256", "schema_version", "kind"}
    caption = members["txt"].decode("utf-8", "replace") if "txt" in members else ""
    extra = {k: v for k, v in meta.items() if k not in known}
    ours = meta.get("schema_version") is not None
    if not ours and meta.get("sha256"):
        extra["original_sha256"] = meta["sha256"]  # img2dataset hashes the file it downloaded
    return PairSample(
        key=key,
        url=meta.get("url") or "",
        caption=caption if "txt" in members else (meta.get("caption") or ""),
        image=members[ext],
        width=int(meta.get("width") or 0),
        height=int(meta.get("height") or 0),
        sha256=(meta.get("sha256") if ours else None) or sha256_hex(members[ext]),
        ext=ext,
        extra=extra,
    )


def _is_interleaved(meta: dict) -> bool:
    return meta.get("kind") == KIND_INTERLEAVED


def _is_video(meta: dict) -> bool:
    return meta.get("kind") == KIND_VIDEO


def _pair_image_ext(members: dict[str, bytes]) -> str:
    for ext in IMAGE_EXTS:
        if ext in members:
            return ext
    raise ShardFormatError("pair sample has no image member")


# ---------------------------------------------------------------------- validation


def validate(
    key: str,
    members: dict[str, bytes],
    *,
    max_images: int | None = MAX_IMAGES,
    max_tokens: int | None = None,
    check_images: bool = True,
) -> list[str]:
    """Every problem with one sample, as messages for a person; [] when it is valid.

    ``members`` maps the suffix after ``KEY.`` (``json``, ``0.jpg``, ``txt``…) to bytes.
    With ``check_images`` each image is decoded (PIL) and its sha256 checked.
    """
    problems: list[str] = []
    if not key or not _KEY_RE.match(key):
        problems.append(f"invalid key {key!r} (letters, digits, '_' and '-' only; no dots)")
    for suffix in members:
        last = suffix.rsplit(".", 1)[-1].lower()
        if last not in ALLOWED_SUFFIXES:
            problems.append(f"member {key}.{suffix}: extension {last!r} is not allowed (never decoded)")
    if "json" not in members:
        return problems + ["missing member KEY.json"]
    try:
        meta = json.loads(members["json"])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return problems + [f"KEY.json is not valid JSON: {e}"]
    if not isinstance(meta, dict):
        return problems + ["KEY.json must hold a JSON object"]
    version = meta.get("schema_version")
    if _is_interleaved(meta) or version is not None:
        if version != SCHEMA_VERSION:
            return problems + [f"unknown schema_version {version!r} (this reader knows {SCHEMA_VERSION})"]
    if _is_interleaved(meta):
        problems += _validate_interleaved(meta, members, max_images, max_tokens, check_images)
    elif _is_video(meta):
        problems += _validate_video(meta, members, check_images)
    else:
        problems += _validate_pair(meta, members, check_images)
    return problems


def _validate_interleaved(meta, members, max_images, max_tokens, check_images) -> list[str]:
    problems: list[str] = []
    segments, images = meta.get("segments"), meta.get("images")
    if not isinstance(segments, list) or not isinstance(images, list):
        return ["'segments' and 'images' must be lists"]
    if max_images is not None and len(images) > max_images:
        problems.append(f"{len(images)} images, more than the limit of {max_images}")
    tokens = meta.get("num_tokens")
    if not isinstance(tokens, int) or tokens < 0:
        problems.append(f"num_tokens must be a non-negative integer, got {tokens!r}")
    elif max_tokens is not None and tokens > max_tokens:
        problems.append(f"{tokens} tokens, more than the limit of {max_tokens}")
    for name in ("url", "doc_id", "tokenizer"):
        if not isinstance(meta.get(name), str):
            problems.append(f"'{name}' must be a string")
    slots = []
    for i, seg in enumerate(segments):
        if isinstance(seg, dict) and isinstance(seg.get("text"), str) and len(seg) == 1:
            continue
        if isinstance(seg, dict) and isinstance(seg.get("image"), int) and len(seg) == 1:
            slots.append(seg["image"])
            continue
        problems.append(f"segment {i} must be {{'text': str}} or {{'image': int}}, got {seg!r:.80}")
    if sorted(slots) != list(range(len(images))):
        problems.append(f"image slots {slots} do not reference images 0..{len(images) - 1} once each")
    image_members = {s for s in members if _IMAGE_MEMBER_RE.match(s)}
    declared = set()
    for i, im in enumerate(images):
        if not isinstance(im, dict):
            problems.append(f"image {i}: metadata must be an object")
            continue
        member = im.get("member")
        m = _IMAGE_MEMBER_RE.match(member) if isinstance(member, str) else None
        if not m or int(m.group(1)) != i:
            problems.append(f"image {i}: member must be '{i}.<ext>', got {member!r}")
            continue
        declared.add(member)
        if member not in members:
            problems.append(f"image {i}: missing member KEY.{member}")
            continue
        if check_images:
            problems += _check_image(f"image {i}", members[member], im)
    for extra in sorted(image_members - declared):
        problems.append(f"member KEY.{extra} is not referenced by KEY.json")
    return problems


def _validate_video(meta, members, check_images) -> list[str]:
    frames = meta.get("frames")
    if not isinstance(frames, list) or not frames:
        return ["'frames' must be a non-empty list"]
    if len(frames) > MAX_FRAMES:
        return [f"{len(frames)} frames, more than the limit of {MAX_FRAMES}"]
    problems = []
    if "txt" not in members:
        problems.append("missing member KEY.txt (the text about the clip)")
    else:
        try:
            members["txt"].decode("utf-8")
        except UnicodeDecodeError:
            problems.append("KEY.txt is not UTF-8")
    declared = set()
    for i, fr in enumerate(frames):
        member = fr.get("member") if isinstance(fr, dict) else None
        m = _IMAGE_MEMBER_RE.match(member) if isinstance(member, str) else None
        if not m or int(m.group(1)) != i:
            problems.append(f"frame {i}: member must be '{i}.<ext>', got {member!r}")
            continue
        declared.add(member)
        if member not in members:
            problems.append(f"frame {i}: missing member KEY.{member}")
        elif check_images:
            problems += _check_image(f"frame {i}", members[member], fr)
    for extra in sorted({s for s in members if _IMAGE_MEMBER_RE.match(s)} - declared):
        problems.append(f"member KEY.{extra} is not referenced by KEY.json")
    return problems


def _validate_pair(meta, members, check_images) -> list[str]:
    present = [e for e in IMAGE_EXTS if e in members]
    if len(present) != 1:
        return [f"a pair needs exactly one image member (KEY.jpg/png/webp), found {len(present)}"]
    if "txt" not in members and not isinstance(meta.get("caption"), str):
        return ["a pair needs a caption (KEY.txt or 'caption' in KEY.json)"]
    if "txt" in members:
        try:
            members["txt"].decode("utf-8")
        except UnicodeDecodeError:
            return ["KEY.txt is not UTF-8"]
    if not check_images:
        return []
    if meta.get("schema_version") is None:
        # img2dataset's sha256 is of the downloaded file, not the stored (resized) one.
        meta = {k: v for k, v in meta.items() if k != "sha256"}
    return _check_image("image", members[present[0]], meta)


def _check_image(label: str, data: bytes, meta: dict) -> list[str]:
    from PIL import Image  # only the validator decodes images

    want_sha = meta.get("sha256")
    if want_sha and sha256_hex(data) != want_sha:
        return [f"{label}: sha256 of the stored bytes does not match the metadata"]
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP"]) as im:
            size = im.size
            if size[0] * size[1] > 1 << 28:
                return [f"{label}: {size[0]}x{size[1]} is too many pixels to decode"]
            im.load()
    except Exception as e:  # PIL raises many types for corrupt data
        return [f"{label}: does not decode as an image ({type(e).__name__}: {e})"]
    w, h = meta.get("width"), meta.get("height")
    if isinstance(w, int) and isinstance(h, int) and (w, h) != size and w and h:
        return [f"{label}: metadata says {w}x{h} but the image is {size[0]}x{size[1]}"]
    return []
