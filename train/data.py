"""Endless, seeded, resumable batch streams over our shards (and img2dataset's).

Per dataset and rank: a ``ShardStream`` (an IterableDataset) runs in each DataLoader worker
(or in-process); worker w of rank r is slot ``r * workers + w`` of ``train.order``, which
decides which shards it reads in which pass and in what order. Raw samples -> an ``Example``
or a counted skip (``train.samples``) -> batches (``train.collate``).

Every batch carries its slot and that slot's position after it; ``BatchStream`` (the
trainer's side) keeps the position of the last batch it consumed per slot, which is what a
checkpoint saves. Per-sample randomness (image placement, transforms) is seeded by the
sample's identity (dataset seed, pass, shard, index), so nothing else needs saving and an
elastic resume keeps every sample's augmentation. The DataLoader gets its own generator, so
creating it never draws from (and never shifts) the global torch RNG.

Bad data: every skipped sample is counted by reason (``train.samples.SkipLog``). A worker whose first
``first_valid_within`` samples are all unusable, or whose shards all turn out empty, stops
the run with one line naming the dataset and the reason (``collate.DataError``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from pipeline.shards import layouts, reader
from train import order
from train.collate import DataError, Example, collate
from train.order import Piece, Pos, SlotReader, stream_seed
from train.samples import SampleBuilder, SkipLog, build_example
from train.tarseek import Offsets, open_at

log = logging.getLogger(__name__)


def expand_paths(patterns: list[str]) -> list[str]:
    """The shard list of a dataset (``pipeline.shards.reader.expand_paths``); none is an error."""
    out = reader.expand_paths(patterns)
    if not out:
        raise FileNotFoundError(f"no shards match {patterns}")
    return out


def check_layout(urls: list[str], kind: str, name: str = "") -> None:
    """Stop at launch with one line when a dataset starts with another project's layout (an
    OpenFlamingo-style MMC4 tar, an OBELICS parquet or MMC4 jsonl file), naming it and the
    command that imports it. (Samples of our other kind are the loader's DataError, below.)"""
    problem = layouts.check_dataset(urls, kind, foreign_only=True)
    if problem:
        raise DataError(f"dataset {name!r}: {problem}" if name else problem)


@dataclass
class ShardStream(IterableDataset):
    """An endless stream of collated batches for one dataset on one rank."""

    urls: list[str]
    builder: SampleBuilder
    make_labels: Callable
    label_ids: object
    batch_size: int
    name: str = "data"
    seed: int = 0
    rank: int = 0
    world_size: int = 1
    num_workers: int = 0  # set by BatchStream: its DataLoader's worker count
    chunk: int = 1000  # samples shuffled together (data.shuffle_buffer)
    first_valid_within: int = 200
    start: dict[int, Pos] = field(default_factory=dict)  # slot -> position to start from
    plans: dict[int, dict[int, list[Piece]]] = field(default_factory=dict)  # slot -> pass -> pieces
    # DataLoader always starts at its worker 0; on resume the worker whose batch is due next
    # must play that part, so logical worker = (physical + offset) % workers.
    worker_offset: int = 0
    # A worker sends its small tensors by value (``by_value``); not when batches are to be pinned
    # for a GPU, which the DataLoader does to tensors only (set by BatchStream).
    send_by_value: bool = True

    def __post_init__(self) -> None:
        self._empty_shards: set[int] = set()  # shards read from their start that held nothing
        self._offsets = Offsets()  # sample places walked in this worker's shards

    @property
    def workers(self) -> int:
        return max(1, self.num_workers)

    @property
    def slots(self) -> int:
        return self.world_size * self.workers

    def slot_reader(self, slot: int, slots: int | None = None, plan: dict | None = None) -> SlotReader:
        return SlotReader(len(self.urls), self.seed, slot, slots or self.slots, self.chunk, self.read_piece,
                          self.plans.get(slot, {}) if plan is None else plan, self._empty_pass)

    def read_piece(self, piece: Piece, index: int) -> Iterator[tuple[int, reader.RawSample]]:
        """The samples ``piece`` selects from sample ``index`` on, undecoded; samples before
        ``index`` are passed over by seeking through tar headers where the tar allows."""
        url = self.urls[piece.shard]
        try:
            f, first = open_at(url, index, self._offsets)
        except OSError as e:
            raise DataError(f"dataset {self.name!r}: cannot open shard {url}: {e.strerror or e}",
                            "check data.datasets paths") from None
        if f is None:
            return
        last, seen = piece.last(), False
        with f:
            for i, raw in enumerate(reader.iter_raw(f, url), start=first):
                seen = True
                if last is not None and i > last:
                    return
                if i >= index and piece.selects(i):
                    yield i, raw
        if first == 0 and not seen:
            self._empty_shards.add(piece.shard)

    def _empty_pass(self, pass_: int) -> None:
        if len(self._empty_shards) == len(self.urls):
            raise DataError(f"dataset {self.name!r}: its {len(self.urls)} shard(s) hold no samples",
                            f"check the dataset's paths (flamingo inspect {self.urls[0]})")

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        worker = (info.id + self.worker_offset) % info.num_workers if info is not None else 0
        slot = self.rank * self.workers + worker
        try:
            for batch in self._batches(slot):
                yield by_value(batch) if info is not None and self.send_by_value else batch
        except DataError as e:
            yield {"_error": [e.what, e.hint]}  # raised again, as one line, in the trainer

    def _batches(self, slot: int) -> Iterator[dict]:
        reader_ = self.slot_reader(slot)
        skips = SkipLog(self.name)
        batch: list[Example] = []
        tries = valid = truncated = 0
        pos = self.start.get(slot, Pos())
        ids: list[tuple[int, int, int]] = []  # (pass, shard, index) of each row: tests, debugging
        for item, after in reader_.items(pos):
            tries += 1
            example = build_example(self.builder, item.raw, stream_seed(self.seed, item.pass_, item.shard,
                                                                         item.index), skips)
            if example is not None:
                valid += 1
                truncated += example.truncated
                batch.append(example)
                ids.append((item.pass_, item.shard, item.index))
            elif not valid and tries >= self.first_valid_within:
                raise DataError(f"dataset {self.name!r}: no valid sample in the first {tries} a loader worker read "
                                f"({_summary(skips.counts)})", "check the dataset's kind and shards "
                                f"(flamingo inspect {self.urls[item.shard]})")
            if len(batch) == self.batch_size:
                out = collate(batch, self.builder.vocab, self.make_labels, self.label_ids)
                out.update(_slot=slot, _pos=after.to_json(), _counts=dict(skips.counts), _truncated=truncated,
                           _samples=ids)
                yield out
                batch, ids = [], []

# Tensors up to this size cross from a loader worker as bytes in the pickle; larger ones through
# shared memory. torch sends every tensor as a shared-memory segment whose file descriptor is
# handed over on a socket of its own: ~0.25 ms of CPU per tensor on each side, 2.8 ms per
# batch of six small tensors against 0.3 ms by value (bench/README.md, "Trainer").
BY_VALUE_BYTES = 1 << 20


def by_value(batch: dict) -> dict:
    """A worker's batch with its small tensors as numpy arrays (pickled by value); same values."""
    return {k: v.numpy() if isinstance(v, torch.Tensor) and v.nbytes <= BY_VALUE_BYTES else v
            for k, v in batch.items()}


def as_tensors(batch: dict) -> dict:
    """Undo ``by_value`` (no copy): every array a tensor again, of the same dtype and shape."""
    return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in batch.items()}


def _as_sent(batch: dict) -> dict:
    """DataLoader's collate_fn: the batch as the stream made it (its default would turn the
    numpy arrays back into tensors inside the worker, before sending)."""
    return batch


def _summary(counts: Counter) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in counts.most_common()) or "no samples"


class OutdatedState(ValueError):
    """A saved stream state from before data positions (an older trainer's replay cursors)."""


class BatchStream:
    """The trainer's view of one dataset on this rank: next batch, positions, skip counts."""

    def __init__(self, name: str, dataset: ShardStream, num_workers: int = 0, prefetch_factor: int = 2,
                 pin_memory: bool = False):
        self.name = name
        self.pin_memory = pin_memory  # page-locked batches copy to a GPU asynchronously
        self.dataset = dataset
        dataset.name, dataset.num_workers = name, num_workers
        dataset.send_by_value = not pin_memory
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.positions: dict[int, Pos] = dict(dataset.start)  # slot -> position after its last consumed batch
        self.consumed = 0  # batches taken since this worker layout started (decides whose batch is next)
        self.counts: dict[int, dict[str, int]] = {}  # slot -> skip reasons, this run
        self.truncated: dict[int, int] = {}
        self.base_counts: Counter = Counter()  # skips and truncations before this run (from the checkpoint)
        self.last_keys: list[str] = []
        self.last_samples: list[tuple[int, int, int]] = []  # (pass, shard, index) of the last batch's rows
        self._it: Iterator | None = None

    def _loader(self) -> Iterator:
        kw = {"prefetch_factor": self.prefetch_factor, "persistent_workers": False} if self.num_workers else {}
        # A private generator: DataLoader draws its workers' base seed from it, not from the global RNG.
        gen = torch.Generator().manual_seed(stream_seed(self.dataset.seed, "loader", self.dataset.rank) % (1 << 63))
        return iter(DataLoader(self.dataset, batch_size=None, num_workers=self.num_workers, collate_fn=_as_sent,
                               pin_memory=self.pin_memory, generator=gen, **kw))

    def __next__(self) -> dict:
        if self._it is None:
            self._it = self._loader()
        batch = next(self._it)
        if "_error" in batch:
            raise DataError(*batch["_error"])
        batch = as_tensors(batch)
        self.consumed += 1
        slot = int(batch.pop("_slot"))
        self.positions[slot] = Pos.from_json(batch.pop("_pos"))
        self.counts[slot] = batch.pop("_counts")
        self.truncated[slot] = int(batch.pop("_truncated"))
        self.last_keys = batch.pop("keys")
        self.last_samples = [tuple(x) for x in batch.pop("_samples")]
        return batch

    def __iter__(self):
        return self

    def dropped_total(self) -> dict[str, int]:
        """Skipped samples by reason, all slots of this rank, since training began."""
        total = Counter({k: v for k, v in self.base_counts.items() if k != "truncated"})
        for counts in self.counts.values():
            total.update(counts)
        return dict(total)

    def truncated_total(self) -> int:
        return self.base_counts["truncated"] + sum(self.truncated.values())

    def state(self) -> dict:
        ds = self.dataset
        slots = range(ds.rank * ds.workers, (ds.rank + 1) * ds.workers)
        current = {g: self.positions.get(g, Pos()) for g in slots}
        return {
            "world_size": ds.world_size,
            "num_workers": self.num_workers,
            "shards": len(ds.urls),
            "consumed": self.consumed,
            "positions": {str(g): p.to_json() for g, p in current.items()},
            # plans only matter for passes not yet finished
            "plans": {str(g): {str(q): [pc.to_json() for pc in pieces] for q, pieces in ds.plans.get(g, {}).items()
                               if q >= current[g].pass_} for g in slots if ds.plans.get(g)},
            "counts": {**self.dropped_total(), "truncated": self.truncated_total()},
        }

    def load_state(self, states: list[dict]) -> bool:
        """Continue where the checkpoint left off; ``states`` holds this dataset's state from
        every rank of the checkpoint, in rank order. Call before the first batch. Returns False
        when the worker layout changed (the resume then continues the pass, not bit-exactly)."""
        ds = self.dataset
        if any("positions" not in s for s in states):
            raise OutdatedState(self.name)
        mine = states[min(ds.rank, len(states) - 1)]
        if any(s["shards"] != len(ds.urls) for s in states):
            raise DataError(f"dataset {self.name!r} had {states[0]['shards']} shards at the checkpoint, "
                            f"now {len(ds.urls)}", "resume with the same shards, or start a new run")
        exact = mine["world_size"] == ds.world_size and mine["num_workers"] == self.num_workers
        if exact:
            ds.start = {int(g): Pos.from_json(p) for g, p in mine["positions"].items()}
            ds.plans = {int(g): {int(q): [Piece.from_json(v) for v in pcs] for q, pcs in plan.items()}
                        for g, plan in mine.get("plans", {}).items()}
            self.consumed = int(mine["consumed"])
            ds.worker_offset = self.consumed % ds.workers
        else:
            first, plans = self._elastic(states)
            new = range(ds.rank * ds.workers, (ds.rank + 1) * ds.workers)
            ds.start = {g: Pos(first) for g in new}
            ds.plans = {g: plans[g] for g in new}
            self.consumed, ds.worker_offset = 0, 0
        self.positions = dict(ds.start)
        if ds.rank == 0 or exact:  # elastic: counts are kept once, by rank 0
            self.base_counts = Counter(mine.get("counts", {}) if exact else _sum_counts(states))
        self._it = None
        return exact

    def _elastic(self, states: list[dict]) -> tuple[int, list[dict]]:
        ds = self.dataset
        old_workers = max(1, states[0]["num_workers"])
        old_slots = len(states) * old_workers
        old = []
        for s in states:
            plans = {int(g): {int(q): [Piece.from_json(v) for v in pcs] for q, pcs in plan.items()}
                     for g, plan in s.get("plans", {}).items()}
            for g, p in s["positions"].items():
                old.append((ds.slot_reader(int(g), old_slots, plans.get(int(g), {})), Pos.from_json(p)))
        return order.elastic_plans(old, ds.slots)


def _sum_counts(states: list[dict]) -> Counter:
    total: Counter = Counter()
    for s in states:
        total.update(s.get("counts", {}))
    return total
