"""Endless, seeded, resumable batch streams over our shards (and img2dataset's).

Per dataset: shard URLs (globs, braces, fsspec URLs; never ``pipe:``) -> webdataset's
seeded shard resampling, one independent seed per (rank, worker) -> raw members
grouped by key through the shard-format module -> webdataset's seeded shuffle buffer
-> validate and decode (shard-format module) -> a tokenised ``Example`` -> batches.

Resuming exactly: the stream is a pure function of (seed, rank, worker), so a
position is the number of raw samples a worker had pulled from its shuffle buffer
when it finished the last batch the trainer consumed. Each batch carries that
cursor; on resume every worker replays its stream to the cursor, skipping samples
before any decoding. Per-sample randomness (the window) is seeded by the sample's
position, so skipped samples need no work. Bad samples are counted by reason and
logged, never silently dropped.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
import webdataset as wds
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from pipeline.shards import format as sf
from pipeline.shards import layouts, reader
from train.collate import Example, SampleError, Vocab, collate, interleaved_example, pair_example

log = logging.getLogger(__name__)


def expand_paths(patterns: list[str]) -> list[str]:
    """The shard list of a dataset (``pipeline.shards.reader.expand_paths``); none is an error."""
    out = reader.expand_paths(patterns)
    if not out:
        raise FileNotFoundError(f"no shards match {patterns}")
    return out


def check_layout(urls: list[str], kind: str) -> None:
    """Stop with one line when a dataset starts with another project's layout (MMC4, OBELICS)
    or with samples all of the other kind, instead of skipping every sample with a warning."""
    from flamingo.typedconfig import UsageError

    problem = layouts.check_dataset(urls, kind)
    if problem:
        raise UsageError(problem)


def stream_seed(*parts: object) -> int:
    h = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(h[:8], "little")


@dataclass
class SampleBuilder:
    """Turns one decoded sample into an ``Example``; picklable for DataLoader workers."""

    kind: str
    vocab: Vocab
    transform: Callable
    max_tokens: int = 256
    max_images: int = 5
    attach: str = "next"
    image_size: int | None = None  # the tower's input side: JPEGs decode at a reduced scale >= it

    def __call__(self, sample: sf.Sample, rng: random.Random) -> Example:
        if sample.kind != self.kind:
            raise SampleError(
                "unexpected_kind", f"{sample.key}: a {sample.kind} sample in a {self.kind} dataset"
            )
        if isinstance(sample, sf.PairSample):
            return pair_example(
                sample,
                self.vocab,
                self.transform,
                max_tokens=self.max_tokens,
                min_size=self.image_size,
            )
        return interleaved_example(
            sample,
            self.vocab,
            self.transform,
            max_tokens=self.max_tokens,
            max_images=self.max_images,
            attach=self.attach,
            rng=rng,
            min_size=self.image_size,
        )


@dataclass
class ShardStream(IterableDataset):
    """An endless stream of collated batches for one dataset on one rank."""

    urls: list[str]
    builder: SampleBuilder
    make_labels: Callable
    label_ids: object
    batch_size: int
    seed: int = 0
    rank: int = 0
    world_size: int = 1
    shuffle_buffer: int = 1000
    shuffle_initial: int = 100
    start_cursors: dict[int, int] = field(default_factory=dict)  # worker -> raw samples to skip
    # DataLoader always starts at its worker 0; on resume the worker whose batch is due
    # next must play that part, so logical worker = (physical + offset) % workers.
    worker_offset: int = 0

    def _raw(self, worker: int) -> Iterator[reader.RawSample]:
        base = stream_seed(self.seed, self.rank, worker)
        shards = wds.ResampledShards(
            self.urls, seed=base, worker_seed=lambda: 0, deterministic=True
        )
        for item in shards:
            with reader.open_shard(item["url"]) as f:
                yield from reader.iter_raw(f, item["url"])

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        worker = (info.id + self.worker_offset) % info.num_workers if info is not None else 0
        base = stream_seed(self.seed, self.rank, worker)
        raw = wds.filters._shuffle(
            self._raw(worker), self.shuffle_buffer, self.shuffle_initial, seed=base + 1
        )
        cursor, dropped = 0, Counter()
        skip = self.start_cursors.get(worker, 0)
        batch: list[Example] = []
        for item in raw:
            cursor += 1
            if cursor <= skip:
                continue
            # Seed torch too, for transforms that draw from it, without disturbing the caller's RNG.
            with torch.random.fork_rng(devices=[]):
                # The CPU generator only: torch.manual_seed also queues CUDA seeding with a
                # captured stack trace, which cost ~3 ms per sample (profiled).
                torch.default_generator.manual_seed(stream_seed(base, cursor) % (1 << 63))
                example = self._build(item, random.Random(stream_seed(base, cursor)), dropped)
            if example is None:
                continue
            batch.append(example)
            if len(batch) == self.batch_size:
                out = collate(batch, self.builder.vocab, self.make_labels, self.label_ids)
                out.update(_worker=worker, _cursor=cursor, _dropped=dict(dropped))
                yield out
                batch = []

    def _build(self, raw: reader.RawSample, rng: random.Random, dropped: Counter) -> Example | None:
        problems = raw.problems + sf.validate(raw.key, raw.members, check_images=False)
        try:
            if problems:
                raise SampleError("invalid_sample", "; ".join(problems))
            return self.builder(sf.decode(raw.key, raw.members), rng)
        except SampleError as e:
            reason, message = e.reason, str(e)
        except sf.ShardFormatError as e:
            reason, message = "invalid_sample", str(e)
        dropped[reason] += 1
        log.warning("skipping sample %r in %s: %s: %.200s", raw.key, raw.shard, reason, message)
        return None


class BatchStream:
    """The trainer's view of one dataset: next batch, position, drop counts."""

    def __init__(
        self,
        name: str,
        dataset: ShardStream,
        num_workers: int = 0,
        prefetch_factor: int = 2,
        pin_memory: bool = False,
    ):
        self.name = name
        self.pin_memory = pin_memory  # page-locked batches copy to a GPU asynchronously
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.cursors: dict[int, int] = dict(dataset.start_cursors)
        self.consumed = 0  # batches taken since the start of training (across resumes)
        self.dropped: dict[int, dict[str, int]] = {}
        self._it: Iterator | None = None

    def __next__(self) -> dict[str, torch.Tensor]:
        if self._it is None:
            kw = (
                {"prefetch_factor": self.prefetch_factor, "persistent_workers": False}
                if self.num_workers
                else {}
            )
            loader = DataLoader(
                self.dataset,
                batch_size=None,
                num_workers=self.num_workers,
                pin_memory=self.pin_memory,
                **kw,
            )
            self._it = iter(loader)
        batch = next(self._it)
        self.consumed += 1
        worker = int(batch.pop("_worker"))
        self.cursors[worker] = int(batch.pop("_cursor"))
        self.dropped[worker] = batch.pop("_dropped")
        return batch

    def __iter__(self):
        return self

    def state(self) -> dict:
        return {
            "num_workers": self.num_workers,
            "consumed": self.consumed,
            "cursors": {str(k): v for k, v in self.cursors.items()},
        }

    def load_state(self, state: dict) -> None:
        """Continue where ``state`` left off; call before the first batch."""
        if state.get("num_workers") != self.num_workers:
            raise ValueError(
                f"dataset {self.name!r}: checkpoint was taken with {state.get('num_workers')} loader "
                f"workers, this run has {self.num_workers}; exact resume needs the same number"
            )
        self.cursors = {int(k): int(v) for k, v in state["cursors"].items()}
        self.consumed = int(state["consumed"])
        self.dataset.start_cursors = dict(self.cursors)
        self.dataset.worker_offset = self.consumed % max(1, self.num_workers)
        self._it = None

    def dropped_total(self) -> dict[str, int]:
        total: Counter = Counter()
        for counts in self.dropped.values():
            total.update(counts)
        return dict(total)
