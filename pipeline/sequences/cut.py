"""Cutting a document into M3W-style sequences (pure; no Beam).

A document is a list of nodes in reading order: text (``str``) and images
(``pipeline.shards.format.ImageRef`` without bytes: they stay in the job's image store until the
shard is written). It is grouped into *units*: the text before the first image,
then each image with the text that follows it up to the next image. Units are packed
greedily into sequences of at most ``max_tokens`` tokens and ``max_images`` images,
counted on the language-model layout (``text<image>text<|endofchunk|>…``, see
``pipeline.shards.format.layout_text``). An image never ends a sequence without the text after
it: a unit that does not fit starts a new sequence, and a unit longer than a whole
sequence is cut at a token boundary, its remaining text continuing in the next one.
Each finished sequence is counted again exactly and trimmed if it came out longer
than the estimate.

With a real tokenizer (``HFTokenCounter``) the count is what the trainer feeds:
``shards.format.sequence_token_ids``, BOS (where the tokenizer adds one) and EOS
included, so ``max_tokens`` bounds the training row and the trainer never re-cuts.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol, Union

from pipeline.shards import format as sf

Node = Union[str, sf.ImageRef]


@dataclass
class Unit:
    image: sf.ImageRef | None
    text: str


@dataclass
class Sequence:
    segments: list[sf.Segment] = field(default_factory=list)
    images: list[sf.ImageRef] = field(default_factory=list)
    num_tokens: int = 0


class TokenCounter(Protocol):
    def count(self, text: str) -> int: ...
    def cut(self, text: str, n: int) -> tuple[str, str]: ...
    # Optional: ``reserved`` (tokens every sequence adds: BOS, EOS) and ``sequence_tokens(segments)``
    # (the exact count of a sequence); without them the layout string is counted as it is.


class HFTokenCounter:
    """Counts with a Hugging Face fast tokenizer exactly as the trainer feeds (BOS/EOS
    included); cuts at token (preferably word) boundaries."""

    def __init__(self, tokenizer):
        self.tok = tokenizer
        self.bos = sf.bos_token_id(tokenizer)
        self.reserved = 1 + (self.bos is not None)  # EOS always, BOS where the tokenizer adds one

    def count(self, text: str) -> int:
        return len(sf.encode_text(self.tok, text)) if text else 0

    def sequence_tokens(self, segments: list[sf.Segment]) -> int:
        # the ids do not matter for the length, only the rule that places them
        return len(sf.sequence_token_ids(segments, lambda t: sf.encode_text(self.tok, t), image=-1,
                                         end_of_chunk=-2, eos=-3, bos=None if self.bos is None else -4))

    def cut(self, text: str, n: int) -> tuple[str, str]:
        if n <= 0:
            return "", text
        enc = self.tok(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        if len(offsets) <= n:
            return text, ""
        end = offsets[n - 1][1]
        space = text.rfind(" ", 0, end + 1)
        if space > end // 2:  # prefer a word boundary unless it throws away half the text
            end = space
        return text[:end].rstrip(), text[end:].lstrip()


def units_of(nodes: list[Node]) -> list[Unit]:
    units = [Unit(None, "")]
    for node in nodes:
        if isinstance(node, sf.ImageRef):
            units.append(Unit(node, ""))
        elif node.strip():
            u = units[-1]
            u.text = f"{u.text}\n\n{node.strip()}" if u.text else node.strip()
    return [u for u in units if u.image is not None or u.text]


def cut_sequences(nodes: list[Node], counter: TokenCounter, *, max_tokens: int = sf.MAX_TOKENS,
                  max_images: int = sf.MAX_IMAGES) -> list[Sequence]:
    """Pack ``nodes`` into sequences within both budgets (see module docstring)."""
    overhead = 2  # <image> and <|endofchunk|> around each image's text
    total, reserved = max_tokens, getattr(counter, "reserved", 0)
    max_tokens -= reserved  # the budget of the layout itself: BOS/EOS are added to every sequence
    if max_tokens < overhead + 1 or max_images < 1:
        raise ValueError(f"max_tokens {total} ({reserved} reserved for BOS/EOS) and max_images {max_images} leave "
                         "no room for an image and its text")
    seqs: list[Sequence] = []
    cur, used = Sequence(), 0
    queue = deque(units_of(nodes))
    while queue:
        u = queue.popleft()
        cost = counter.count(u.text) + (overhead if u.image else 0)
        if u.image and len(cur.images) >= max_images:
            seqs.append(cur)
            cur, used = Sequence(), 0
        if used + cost <= max_tokens:
            _append(cur, u)
            used += cost
            continue
        room = max_tokens - used - (overhead if u.image else 0)
        if u.image and cur.segments and room < min(32, max_tokens // 4):
            seqs.append(cur)  # too little room for this image's text: start afresh
            cur, used = Sequence(), 0
            queue.appendleft(u)
            continue
        head, tail = counter.cut(u.text, max(room, 0))
        if not head and not u.image and not cur.segments:
            # A cutter that cannot shorten this text (e.g. a first token with no characters):
            # take one word, so every turn of the loop makes progress.
            head, _, tail = u.text.partition(" ")
        if head or u.image:
            _append(cur, Unit(u.image, head))
        if cur.segments:
            seqs.append(cur)
        cur, used = Sequence(), 0
        if tail:
            queue.appendleft(Unit(None, tail))
    if cur.segments:
        seqs.append(cur)
    return [_fit_exactly(s, counter, total) for s in seqs]


def has_text_after_image(seq: Sequence) -> bool:
    """Whether any text follows an image: a sequence without such text teaches nothing
    (the loss is on text after an image), e.g. a lone image whose text went before it."""
    seen_image = False
    for seg in seq.segments:
        if isinstance(seg, sf.ImageSlot):
            seen_image = True
        elif seen_image and seg.text.strip():
            return True
    return False


def _append(seq: Sequence, u: Unit) -> None:
    if u.image is not None:
        seq.segments.append(sf.ImageSlot(len(seq.images)))
        seq.images.append(u.image)
    if u.text:
        seq.segments.append(sf.TextSegment(u.text))


def _count(seq: Sequence, counter: TokenCounter) -> int:
    exact = getattr(counter, "sequence_tokens", None)
    return exact(seq.segments) if exact else counter.count(sf.layout_text(seq.segments))


def _fit_exactly(seq: Sequence, counter: TokenCounter, max_tokens: int) -> Sequence:
    """Count the sequence exactly; trim the last text segment while it is over budget (and
    drop whole trailing segments if trimming cannot get it under)."""
    for _ in range(8):
        seq.num_tokens = _count(seq, counter)
        excess = seq.num_tokens - max_tokens
        last = seq.segments[-1] if seq.segments else None
        if excess <= 0 or not isinstance(last, sf.TextSegment):
            break
        keep = max(counter.count(last.text) - excess - 1, 0)
        head, _ = counter.cut(last.text, keep)
        if head:
            last.text = head
        else:
            seq.segments.pop()
    while seq.num_tokens > max_tokens and seq.segments:  # a budget the estimate never reached
        seq.segments.pop()
        seq.images = seq.images[: sum(isinstance(g, sf.ImageSlot) for g in seq.segments)]
        seq.num_tokens = _count(seq, counter)
    return seq


def to_sample(key: str, record: dict, load_image: Callable[[sf.ImageRef], bytes]) -> sf.InterleavedSample:
    """A sequence record (metadata, as it travels through the job) -> the sample to write,
    its image bytes read back with ``load_image``."""
    return sf.InterleavedSample(
        key=key, url=record["url"], doc_id=record["doc_id"], seq_index=record["seq_index"],
        num_tokens=record["num_tokens"], tokenizer=record["tokenizer"], segments=record["segments"],
        images=[replace(m, data=load_image(m)) for m in record["images"]],
    )
