"""From decoded samples to model batches: image attachment, tokenisation, windows, collation.

Small pure functions, each tested on a tiny shard. Text goes through the model's
tokenizer, but the special tokens ``<image>`` and ``<|endofchunk|>`` are placed by id
here rather than left to the tokenizer's parsing of the strings, so the layout does not
depend on how a given tokenizer splits them.

Shapes: ``B`` rows, ``L`` tokens, ``T_img`` images per row, ``F`` frames (1),
``C,H,W`` an image as the vision tower's preprocessing returns it.
"""

from __future__ import annotations

import io
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from PIL import Image

from pipeline.shards import format as sf

MAX_PIXELS = 1 << 26  # refuse decompression bombs before decoding
_SPECIAL_RE = re.compile(f"({re.escape(sf.IMAGE_TOKEN)}|{re.escape(sf.END_OF_CHUNK_TOKEN)})")


@dataclass(frozen=True)
class Vocab:
    """The model's token conventions, as the trainer needs them."""

    encode: Callable[[str], list[int]]  # plain text -> ids, no special tokens added
    image: int
    end_of_chunk: int
    pad: int
    eos: int


@dataclass
class Example:
    """One tokenised row and its images in the order of their ``<image>`` tokens."""

    input_ids: list[int]
    images: list[torch.Tensor] = field(default_factory=list)  # each (C, H, W)


class SampleError(ValueError):
    """A sample that cannot be used; ``reason`` is the snake_case counter name."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def attach_images(segments: Sequence[sf.Segment], mode: str) -> list[sf.Segment]:
    """``next``: an image conditions the text after it (the layout as stored).

    ``previous``: each image moves before the text segment that precedes it, so that
    text is the one its cross-attention sees (the paper's ablation).
    """
    if mode == "next":
        return list(segments)
    out: list[sf.Segment] = []
    for seg in segments:
        if isinstance(seg, sf.ImageSlot) and out and isinstance(out[-1], sf.TextSegment):
            out.insert(len(out) - 1, seg)
        else:
            out.append(seg)
    return out


def encode_layout(text: str, vocab: Vocab) -> list[int]:
    """Tokenise a layout string, mapping the two special markers to their ids."""
    ids: list[int] = []
    for piece in _SPECIAL_RE.split(text):
        if piece == sf.IMAGE_TOKEN:
            ids.append(vocab.image)
        elif piece == sf.END_OF_CHUNK_TOKEN:
            ids.append(vocab.end_of_chunk)
        elif piece:
            ids.extend(vocab.encode(piece))
    return ids


def choose_window(
    ids: Sequence[int], image_id: int, max_tokens: int, max_images: int, rng: random.Random
) -> tuple[int, int, int]:
    """A random window of at most ``max_tokens`` holding at least one image when there is one.

    Returns ``(start, stop, first_image)``: ``ids[start:stop]`` and the index (in token
    order) of its first image. The window ends before its ``max_images + 1``-th image.
    """
    positions = [i for i, t in enumerate(ids) if t == image_id]
    n = len(ids)
    if n <= max_tokens:
        start = 0
    elif positions:
        # Pick an image, then a start that keeps it inside: every window has something to see.
        p = rng.choice(positions)
        start = rng.randint(max(0, p - max_tokens + 1), min(p, n - max_tokens))
    else:
        start = rng.randint(0, n - max_tokens)
    stop = min(n, start + max_tokens)
    first = sum(1 for p in positions if p < start)
    inside = [p for p in positions if start <= p < stop]
    if len(inside) > max_images:
        stop = inside[max_images]
    return start, stop, first


def decode_image(data: bytes, min_size: int | None = None) -> Image.Image:
    """Bytes -> RGB PIL image, with a format allow-list and a pixel cap checked before decoding.

    With ``min_size``, a JPEG is decoded at the smallest DCT scale (1/2, 1/4, 1/8) that keeps
    both sides >= ``min_size``: the tower resizes to that anyway, and decoding fewer pixels is
    the loader's largest cost (see bench/README.md).
    """
    try:
        im = Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP"])
        if im.size[0] * im.size[1] > MAX_PIXELS:
            raise SampleError("image_too_large", f"{im.size[0]}x{im.size[1]} pixels")
        if min_size and im.format == "JPEG":
            im.draft("RGB", (min_size, min_size))
        im.load()
    except SampleError:
        raise
    except Exception as e:  # PIL raises many types on corrupt data
        raise SampleError("image_decode_error", f"{type(e).__name__}: {e}") from e
    return im.convert("RGB")


def interleaved_example(
    sample: sf.InterleavedSample,
    vocab: Vocab,
    transform: Callable[[Image.Image], torch.Tensor],
    *,
    max_tokens: int,
    max_images: int,
    attach: str,
    rng: random.Random,
    min_size: int | None = None,
) -> Example:
    segments = attach_images(sample.segments, attach)
    ids = encode_layout(sf.layout_text(segments), vocab) + [vocab.eos]
    start, stop, first = choose_window(ids, vocab.image, max_tokens, max_images, rng)
    window = ids[start:stop]
    n_img = window.count(vocab.image)
    if n_img == 0:
        raise SampleError("no_image_in_window", f"{sample.key}: no image in the chosen window")
    order = [seg.index for seg in segments if isinstance(seg, sf.ImageSlot)]
    refs = [sample.images[i] for i in order[first : first + n_img]]
    return Example(window, [transform(decode_image(r.data, min_size)) for r in refs])


def pair_example(
    sample: sf.PairSample,
    vocab: Vocab,
    transform: Callable[[Image.Image], torch.Tensor],
    *,
    max_tokens: int,
    min_size: int | None = None,
) -> Example:
    """``<image>caption<|endofchunk|><eos>``, the caption cut to fit ``max_tokens``."""
    caption = vocab.encode(sample.caption.strip())[: max(0, max_tokens - 3)]
    ids = [vocab.image, *caption, vocab.end_of_chunk, vocab.eos]
    return Example(ids, [transform(decode_image(sample.image, min_size))])


def collate(
    examples: Sequence[Example],
    vocab: Vocab,
    make_labels: Callable[[torch.Tensor, object], torch.Tensor],
    label_ids: object,
) -> dict[str, torch.Tensor]:
    """Right-pad ids to the longest row and images to the most images in a row."""
    L = max(len(e.input_ids) for e in examples)
    T = max(1, max(len(e.images) for e in examples))
    shape = next((im.shape for e in examples for im in e.images), None)
    input_ids = torch.full((len(examples), L), vocab.pad, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), L), dtype=torch.long)
    images = torch.zeros((len(examples), T, 1, *shape)) if shape else None  # (B, T_img, F, C, H, W)
    for row, e in enumerate(examples):
        input_ids[row, : len(e.input_ids)] = torch.tensor(e.input_ids)
        attention_mask[row, : len(e.input_ids)] = 1
        for k, im in enumerate(e.images):
            images[row, k, 0] = im
    labels = make_labels(input_ids, label_ids)
    labels[attention_mask == 0] = -100  # padding never counts, even when pad == eos
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "images": images,
        "labels": labels,
        "num_images": torch.tensor(sum(len(e.images) for e in examples)),
    }
