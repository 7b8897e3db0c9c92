"""One raw sample's way to a training row, or to a counted skip.

``build_example``: validate and decode (the shard-format module), then ``SampleBuilder`` turns
the sample into an ``Example`` (``train.collate``) under a seed of the sample's own, so its
augmentation (image placement, transforms) is the same whichever worker reads it and however
often the run resumed. A sample that cannot be used is counted by reason in a ``SkipLog``,
which logs the first few of each reason in full and then one summary line per minute.
A ``DataError`` (the data cannot train this run) goes up, named with the dataset.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import torch

from pipeline.shards import format as sf
from pipeline.shards import reader
from train.collate import (
    DataError,
    Example,
    SampleError,
    Vocab,
    counted_alike,
    interleaved_example,
    pair_example,
    video_example,
)

log = logging.getLogger(__name__)


@dataclass
class SampleBuilder:
    """Turns one decoded sample into an ``Example``; picklable for DataLoader workers."""

    kind: str
    vocab: Vocab
    transform: Callable
    max_tokens: int = 256
    max_images: int = 5
    placement: str = "random"
    truncate: bool = False
    video_frames: int = 8
    image_size: int | None = None  # the tower's input side: JPEGs decode at a reduced scale >= it

    def __call__(self, sample: sf.Sample, rng: random.Random) -> Example:
        if sample.kind != self.kind:
            raise SampleError("unexpected_kind", f"{sample.key}: a {sample.kind} sample in a {self.kind} dataset")
        if isinstance(sample, sf.PairSample):
            return pair_example(sample, self.vocab, self.transform, max_tokens=self.max_tokens,
                                min_size=self.image_size)
        if isinstance(sample, sf.VideoSample):
            return video_example(sample, self.vocab, self.transform, frames=self.video_frames,
                                 max_tokens=self.max_tokens, min_size=self.image_size)
        return interleaved_example(sample, self.vocab, self.transform, max_tokens=self.max_tokens,
                                   max_images=self.max_images, placement=self.placement, rng=rng,
                                   truncate=self.truncate, min_size=self.image_size)


class SkipLog:
    """Rate-limited warnings for skipped samples: the first ``first`` of each reason in full,
    then one line per reason per ``every_s`` seconds with the count since the last line."""

    def __init__(self, name: str, first: int = 3, every_s: float = 60.0):
        self.name, self.first, self.every_s = name, first, every_s
        self.counts: Counter = Counter()
        self._since: Counter = Counter()
        self._last: dict[str, float] = {}
        self._uncounted_noted = False

    def skip(self, reason: str, key: str, shard: str, message: str) -> None:
        self.counts[reason] += 1
        n = self.counts[reason]
        if n <= self.first:
            log.warning("dataset %r: skipping sample %r in %s: %s: %.200s", self.name, key, shard, reason, message)
            self._last[reason] = time.monotonic()
            return
        self._since[reason] += 1
        if time.monotonic() - self._last[reason] >= self.every_s:
            log.warning("dataset %r: skipped %d more %s samples (%d in all in this worker)", self.name,
                        self._since[reason], reason, n)
            self._since[reason], self._last[reason] = 0, time.monotonic()

    def note_uncounted(self, sample: sf.InterleavedSample, vocab: Vocab) -> None:
        """Once per worker: the shards' token counts cannot be checked against this tokenizer's."""
        if self._uncounted_noted or counted_alike(sample, vocab):
            return
        self._uncounted_noted = True
        if not sample.tokenizer:  # written without counting (e.g. the synthetic benchmark's documents)
            log.info("dataset %r: its shards name no tokenizer, so their num_tokens are not checked (rows are "
                     "still held to data.max_tokens)", self.name)
            return
        log.warning("dataset %r: shards were counted with tokenizer %r, the model's is %r: their num_tokens are "
                    "not checked (rows are still held to data.max_tokens)", self.name, sample.tokenizer,
                    vocab.tokenizer_id or "unknown")


def build_example(builder: SampleBuilder, raw: reader.RawSample, seed: int, skips: SkipLog) -> Example | None:
    """The sample's Example, or None when it is skipped (counted and maybe logged by ``skips``)."""
    try:
        problems = raw.problems + sf.validate(raw.key, raw.members, check_images=False)
        if problems:
            raise SampleError("invalid_sample", "; ".join(problems))
        sample = sf.decode(raw.key, raw.members)
        if isinstance(sample, sf.InterleavedSample):
            skips.note_uncounted(sample, builder.vocab)
        # Seed torch too, for transforms that draw from it, without disturbing the caller's RNG.
        with torch.random.fork_rng(devices=[]):
            # The CPU generator only: torch.manual_seed also queues CUDA seeding with a
            # captured stack trace, which cost ~3 ms per sample (profiled).
            torch.default_generator.manual_seed(seed % (1 << 63))
            return builder(sample, random.Random(seed))
    except SampleError as e:
        reason, message = e.reason, str(e)
    except sf.ShardFormatError as e:
        reason, message = "invalid_sample", str(e)
    except DataError as e:
        raise DataError(f"dataset {skips.name!r}: {e.what}", e.hint) from None
    skips.skip(reason, raw.key, raw.shard, message)
    return None
