"""Data order: passes over the shards, split across ranks and loader workers, resumable anywhere.

One dataset's samples are read in *passes*. Pass p shuffles the shard list with a seed of
(dataset seed, p) and deals it round-robin to the ``slots`` readers (slot = rank x loader
workers + worker), so within a pass every shard is read once, by one slot. With fewer shards
than slots each shard is dealt as ``k`` strided parts (samples i with i % k == j), so no slot
is idle; that is the only case where a shard's bytes are walked by more than one slot. When
the shards do not divide evenly, a slot with less to read starts its next pass sooner: every
pass still reads every sample once, but slots can be a pass apart at a given moment.

A slot reads its share as a stream of samples and shuffles it in *chunks*: it reads ``chunk``
raw (undecoded) samples, permutes them with a seed of (pass, slot, chunk start) and hands
them out. A chunk never crosses a pass boundary. A slot's position is therefore small and
exact: ``Pos(pass, piece, index, taken)`` = the chunk starting at sample ``index`` of its
``piece``-th piece, of which ``taken`` samples are used. Resuming reads that one chunk again
(seeking to it through tar headers, ``train.tarseek``), so its cost does not grow with the
length of training. Shuffling in chunks rather than webdataset's rolling buffer is what
makes this position exact and bounded; the mixing is of the same reach (``chunk`` samples).

Elastic resume (another world size or worker count): :func:`elastic_plans` turns every old
slot's position into the work its pass has left (unused samples of its chunk, the rest of
its share) and deals that to the new slots, so the pass continues without repeating a sample.

Pure Python over a ``read_piece`` callable (no torch); ``train.data`` supplies tar reading.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace


def stream_seed(*parts: object) -> int:
    """A 64-bit seed from any parts; independent of PYTHONHASHSEED."""
    h = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(h[:8], "little")


@dataclass(frozen=True)
class Piece:
    """Samples of shard ``shard`` (an index into the dataset's URL list) to read, in order:
    those with ``i % parts == part`` and ``i >= start``, or, when ``only`` is set, exactly those."""

    shard: int
    part: int = 0
    parts: int = 1
    start: int = 0
    only: tuple[int, ...] | None = None

    def selects(self, i: int) -> bool:
        if self.only is not None:
            return i in self._only_set
        return i >= self.start and i % self.parts == self.part

    @functools.cached_property
    def _only_set(self) -> frozenset[int]:
        return frozenset(self.only or ())

    def first(self) -> int:
        """The first sample index this piece may select."""
        return min(self.only, default=0) if self.only is not None else self.start

    def last(self) -> int | None:
        """The last sample index it may select (None: up to the shard's end)."""
        return max(self.only, default=-1) if self.only is not None else None

    def from_index(self, index: int) -> Piece:
        """What is left of this piece from sample ``index`` on."""
        if self.only is not None:
            return replace(self, only=tuple(i for i in self.only if i >= index))
        return replace(self, start=max(self.start, index))

    def to_json(self) -> list:
        return [self.shard, self.part, self.parts, self.start, list(self.only) if self.only is not None else None]

    @classmethod
    def from_json(cls, v: list) -> Piece:
        return cls(v[0], v[1], v[2], v[3], tuple(v[4]) if v[4] is not None else None)


def pass_pieces(n_shards: int, slots: int, seed: int, pass_: int) -> list[Piece]:
    """Every piece of pass ``pass_``, in the order they are dealt to slots."""
    parts = -(-slots // n_shards) if 0 < n_shards < slots else 1
    # Shuffling (shard, part) units, not shards: with parts, which part a slot gets varies by pass.
    units = [Piece(s, j, parts) for s in range(n_shards) for j in range(parts)]
    random.Random(stream_seed(seed, "pass", pass_)).shuffle(units)
    return units


def share(n_shards: int, slots: int, seed: int, pass_: int, slot: int) -> list[Piece]:
    return pass_pieces(n_shards, slots, seed, pass_)[slot::slots]


@dataclass(frozen=True)
class Pos:
    """Where a slot is: the chunk that starts at sample ``index`` of piece ``piece`` of its
    share of pass ``pass_`` (``index`` None: the piece's first sample), ``taken`` of it used."""

    pass_: int = 0
    piece: int = 0
    index: int | None = None
    taken: int = 0

    def to_json(self) -> list:
        return [self.pass_, self.piece, self.index, self.taken]

    @classmethod
    def from_json(cls, v: list) -> Pos:
        return cls(*v)


@dataclass
class Item:
    """One raw sample of a chunk, with its identity (shard, index) in the dataset and its pass."""

    shard: int
    index: int
    raw: object  # pipeline.shards.reader.RawSample
    pass_: int = 0


# read_piece(piece, from_index) -> iterator of (index, raw sample) for the samples the piece selects
ReadPiece = Callable[[Piece, int], Iterator[tuple[int, object]]]


@dataclass
class SlotReader:
    """One slot's endless, chunk-shuffled stream of raw samples, pass after pass."""

    n_shards: int
    seed: int
    slot: int
    slots: int
    chunk: int
    read_piece: ReadPiece
    plan: dict[int, list[Piece]] = field(default_factory=dict)  # pass -> pieces, after an elastic resume
    on_empty_pass: Callable[[int], None] | None = None  # told when a whole pass gave this slot nothing

    def pieces(self, pass_: int) -> list[Piece]:
        if pass_ in self.plan:
            return self.plan[pass_]
        return share(self.n_shards, self.slots, self.seed, pass_, self.slot)

    def read_chunk(self, pos: Pos) -> tuple[list[Item], Pos | None]:
        """The chunk starting at ``pos`` (permuted) and where the next one starts (None: the
        pass is over for this slot)."""
        pieces = self.pieces(pos.pass_)
        items: list[Item] = []
        piece_no, index = pos.piece, pos.index
        while piece_no < len(pieces) and len(items) < self.chunk:
            piece = pieces[piece_no]
            start = piece.first() if index is None else index
            last = None
            for i, raw in self.read_piece(piece, start):
                items.append(Item(piece.shard, i, raw, pos.pass_))
                last = i
                if len(items) == self.chunk:
                    break
            if len(items) == self.chunk and last is not None:
                index = last + 1  # the next chunk goes on in this piece (or finds it spent)
                break
            piece_no, index = piece_no + 1, None
        random.Random(stream_seed(self.seed, "chunk", self.slot, pos.pass_, pos.piece, pos.index)).shuffle(items)
        after = Pos(pos.pass_, piece_no, index) if piece_no < len(pieces) else None
        return items, after

    def items(self, pos: Pos) -> Iterator[tuple[Item, Pos]]:
        """``(item, position after it)`` forever, from ``pos`` on; items of a chunk that are not
        valid samples are still items (the caller counts and skips them)."""
        produced = False
        while True:
            chunk, after = self.read_chunk(pos)
            produced |= bool(chunk)
            end = after or Pos(pos.pass_ + 1)
            for k in range(pos.taken, len(chunk)):
                nxt = replace(pos, taken=k + 1) if k + 1 < len(chunk) else end
                yield chunk[k], nxt
            if after is None:
                if not produced and self.on_empty_pass is not None:
                    self.on_empty_pass(pos.pass_)  # may raise: without it an empty dataset spins silently
                produced = False
            pos = end

    def remaining(self, pos: Pos) -> list[Piece]:
        """Pieces holding exactly the samples this slot had not yet used of pass ``pos.pass_``."""
        pieces = self.pieces(pos.pass_)
        left: list[Piece] = []
        after: Pos | None = pos
        if pos.taken:
            chunk, after = self.read_chunk(pos)
            unused: dict[int, list[int]] = {}
            for item in chunk[pos.taken:]:
                unused.setdefault(item.shard, []).append(item.index)
            left += [Piece(s, only=tuple(sorted(ix))) for s, ix in unused.items()]
        if after is not None and after.piece < len(pieces):
            head = pieces[after.piece]
            left.append(head if after.index is None else head.from_index(after.index))
            left += pieces[after.piece + 1:]
        return left


def elastic_plans(old: list[tuple[SlotReader, Pos]], new_slots: int) -> tuple[int, list[dict[int, list[Piece]]]]:
    """Old slots' (reader, position) -> (the pass to resume, each new slot's plan).

    For every pass from the earliest any old slot is in to the latest: the work left is what
    the slots in that pass had left, plus the whole share of slots that had not reached it;
    slots past it had finished their share. That work is dealt round-robin to the new slots.
    """
    first = min(p.pass_ for _, p in old)
    last = max(p.pass_ for _, p in old)
    plans: list[dict[int, list[Piece]]] = [{} for _ in range(new_slots)]
    for q in range(first, last + 1):
        work: list[Piece] = []
        for reader, pos in old:
            if pos.pass_ == q:
                work += reader.remaining(pos)
            elif pos.pass_ < q:
                work += reader.pieces(q)
        for g in range(new_slots):
            plans[g][q] = work[g::new_slots]
    return first, plans
