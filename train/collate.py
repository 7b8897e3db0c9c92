"""From decoded samples to model batches: image placement, token rows, collation.

Small pure functions, each tested on a tiny shard. One stored interleaved sequence is one
training row, used as written: its ids come from ``pipeline.shards.format.sequence_token_ids``
(BOS where the tokenizer adds one, the layout, EOS), the very function whose length the
corpus job stored as ``num_tokens``. When the shard was counted with this tokenizer (same
fingerprint) the two lengths must agree; a row longer than ``data.max_tokens`` (or with more
images than ``data.max_images``) stops the run unless the user asked for truncation, which
is then counted. Nothing is re-cut or re-windowed.

Shapes: ``B`` rows, ``L`` tokens, ``T_img`` media per row, ``F`` frames per medium (1 for a
still image), ``C,H,W`` a frame as the vision tower's preprocessing returns it.
"""

from __future__ import annotations

import io
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from PIL import Image

from flamingo.typedconfig import UsageError
from pipeline.shards import format as sf

MAX_PIXELS = 1 << 26  # refuse decompression bombs before decoding
_SPECIAL_RE = re.compile(f"({re.escape(sf.IMAGE_TOKEN)}|{re.escape(sf.END_OF_CHUNK_TOKEN)})")
PLACEMENTS = ("next", "previous", "random")


class DataError(UsageError):
    """The data cannot train this run (every sample bad, a row too long, counts that disagree):
    one line naming the dataset, exit code 1."""

    exit_code = 1


class SampleError(ValueError):
    """A sample that cannot be used; ``reason`` is the snake_case counter name."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Vocab:
    """The model's token conventions, as the trainer needs them."""

    encode: Callable[[str], list[int]]  # plain text -> ids, no special tokens added
    image: int
    end_of_chunk: int
    pad: int
    eos: int
    bos: int | None = None  # prepended to every row where the LM's tokenizer adds one
    tokenizer_id: str = ""  # NAME@FINGERPRINT (pipeline.shards.format.tokenizer_id); "" unknown


@dataclass
class Example:
    """One tokenised row and its media, (F, C, H, W) each, in the order of their ``<image>`` tokens."""

    input_ids: list[int]
    images: list[torch.Tensor] = field(default_factory=list)
    key: str = ""
    truncated: bool = False


def attach_images(segments: Sequence[sf.Segment], mode: str) -> list[sf.Segment]:
    """``next``: an image conditions the text after it (the layout as stored).

    ``previous``: each image moves before the text segment that precedes it, so that
    text is the one its cross-attention sees (the paper's image-placement augmentation
    draws one of the two per sequence, each with probability 1/2).
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
    """Tokenise a layout string (a prompt), mapping the two special markers to their ids."""
    ids: list[int] = []
    for piece in _SPECIAL_RE.split(text):
        if piece == sf.IMAGE_TOKEN:
            ids.append(vocab.image)
        elif piece == sf.END_OF_CHUNK_TOKEN:
            ids.append(vocab.end_of_chunk)
        elif piece:
            ids.extend(vocab.encode(piece))
    return ids


def row_ids(segments: Sequence[sf.Segment], vocab: Vocab) -> list[int]:
    return sf.sequence_token_ids(segments, vocab.encode, image=vocab.image, end_of_chunk=vocab.end_of_chunk,
                                 eos=vocab.eos, bos=vocab.bos)


def counted_alike(sample: sf.InterleavedSample, vocab: Vocab) -> bool:
    """Whether the shard's ``num_tokens`` was counted with this trainer's tokenizer."""
    ours = sf.fingerprint_of(vocab.tokenizer_id)
    return ours is not None and sf.fingerprint_of(sample.tokenizer) == ours


def fit_row(ids: list[int], image_id: int, max_tokens: int, max_images: int) -> list[int]:
    """Truncate a row to ``max_tokens`` and to before its ``max_images + 1``-th image, and drop
    ``<image>`` tokens left at its end (an image with no text after it teaches nothing)."""
    positions = [i for i, t in enumerate(ids) if t == image_id]
    stop = min(len(ids), max_tokens, positions[max_images] if len(positions) > max_images else len(ids))
    out = ids[:stop]
    while out and out[-1] == image_id:
        out.pop()
    return out


def has_target(ids: Sequence[int], vocab: Vocab) -> bool:
    """Whether ``flamingo.tokens.make_labels`` would keep any label: a non-image token after an image."""
    seen = False
    for t in ids:
        if t == vocab.image:
            seen = True
        elif seen and t != vocab.pad:
            return True
    return False


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


def _still(transform: Callable, data: bytes, min_size: int | None) -> torch.Tensor:
    return transform(decode_image(data, min_size)).unsqueeze(0)  # (F=1, C, H, W)


def interleaved_example(sample: sf.InterleavedSample, vocab: Vocab, transform: Callable[[Image.Image], torch.Tensor],
                        *, max_tokens: int, max_images: int, placement: str, rng: random.Random,
                        truncate: bool = False, min_size: int | None = None) -> Example:
    """The stored sequence as one row. Raises DataError when it does not fit and ``truncate``
    is off, or when the shard's token count disagrees with this tokenizer's."""
    if placement == "random":
        placement = "previous" if rng.random() < 0.5 else "next"
    segments = attach_images(sample.segments, placement)
    ids = row_ids(segments, vocab)
    if counted_alike(sample, vocab) and len(ids) != sample.num_tokens:
        raise DataError(f"sample {sample.key}: the shard says {sample.num_tokens} tokens but the trainer feeds "
                        f"{len(ids)} with the same tokenizer ({vocab.tokenizer_id})",
                        "these shards were cut by a corpus job that counted another layout (no BOS/EOS budget); "
                        "re-run flamingo corpus")
    order = [seg.index for seg in segments if isinstance(seg, sf.ImageSlot)]
    truncated = False
    if len(ids) > max_tokens or len(order) > max_images:
        if not truncate:
            raise DataError(f"sequence {sample.key} has {len(ids)} tokens and {len(order)} images, more than "
                            f"data.max_tokens={max_tokens} / data.max_images={max_images}",
                            "raise them to the corpus job's --max_tokens/--max_images, or pass --data.truncate "
                            "to cut such rows (counted)")
        ids, truncated = fit_row(ids, vocab.image, max_tokens, max_images), True
    n_img = ids.count(vocab.image)
    if n_img == 0:
        raise SampleError("no_image", f"{sample.key}: no image in the sequence")
    if not has_target(ids, vocab):
        raise SampleError("no_target", f"{sample.key}: no text after an image")
    images = [_still(transform, sample.images[i].data, min_size) for i in order[:n_img]]
    return Example(ids, images, sample.key, truncated)


def _caption_row(caption: str, vocab: Vocab, max_tokens: int) -> tuple[list[int], bool]:
    """``[bos]<image>caption<|endofchunk|><eos>``, the caption cut to fit ``max_tokens``."""
    head = [] if vocab.bos is None else [vocab.bos]
    room = max(0, max_tokens - len(head) - 3)
    text = vocab.encode(caption.strip())
    return [*head, vocab.image, *text[:room], vocab.end_of_chunk, vocab.eos], len(text) > room


def pair_example(sample: sf.PairSample, vocab: Vocab, transform: Callable[[Image.Image], torch.Tensor], *,
                 max_tokens: int, min_size: int | None = None) -> Example:
    ids, cut = _caption_row(sample.caption, vocab, max_tokens)
    return Example(ids, [_still(transform, sample.image, min_size)], sample.key, cut)


def frame_indices(available: int, wanted: int) -> list[int]:
    """``wanted`` frame indices spread evenly over ``available`` frames (repeats when fewer)."""
    return [i * available // wanted for i in range(wanted)]


def video_example(sample: sf.VideoSample, vocab: Vocab, transform: Callable[[Image.Image], torch.Tensor], *,
                  frames: int, max_tokens: int, min_size: int | None = None) -> Example:
    """One clip as one medium of ``frames`` frames (the Perceiver adds a time embedding per
    frame) before its text: ``[bos]<image>text<|endofchunk|><eos>``."""
    ids, cut = _caption_row(sample.caption, vocab, max_tokens)
    chosen = frame_indices(len(sample.frames), frames)
    clip = torch.stack([transform(decode_image(sample.frames[i].data, min_size)) for i in chosen])  # (F, C, H, W)
    return Example(ids, [clip], sample.key, cut)


def collate(examples: Sequence[Example], vocab: Vocab, make_labels: Callable[[torch.Tensor, object], torch.Tensor],
            label_ids: object) -> dict:
    """Right-pad ids to the longest row and media to the most media in a row (padded slots
    are zeros the model never encodes: it counts each row's ``<image>`` tokens)."""
    L = max(len(e.input_ids) for e in examples)
    T = max(1, max(len(e.images) for e in examples))
    shape = next((im.shape for e in examples for im in e.images), None)  # (F, C, H, W)
    input_ids = torch.full((len(examples), L), vocab.pad, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), L), dtype=torch.long)
    images = torch.zeros((len(examples), T, *shape)) if shape else None  # (B, T_img, F, C, H, W)
    for row, e in enumerate(examples):
        input_ids[row, : len(e.input_ids)] = torch.tensor(e.input_ids)
        attention_mask[row, : len(e.input_ids)] = 1
        for k, im in enumerate(e.images):
            images[row, k] = im
    labels = make_labels(input_ids, label_ids)
    labels[attention_mask == 0] = -100  # padding never counts, even when pad == eos
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "images": images,
        "labels": labels,
        "num_images": torch.tensor(sum(len(e.images) for e in examples)),
        "num_frames": torch.tensor(sum(im.shape[0] for e in examples for im in e.images)),
        "keys": [e.key for e in examples],
    }
