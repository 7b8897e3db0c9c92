"""Beam layer of the dropped-items sample: at most ``k`` drops per (stage, reason), chosen by
smallest :func:`pipeline.dropped.rank`, written as one shard ``OUTPUT/dropped/dropped-00000``.

Bounded everywhere: each item is small (text capped, image bytes only named), ``Top`` keeps
``k`` per reason in every combiner (so a reason with a billion drops costs ``k`` items per
worker), and the final list holds ``k`` × reasons items. Deterministic: the choice is by a
stable hash, the shard's samples are in (stage, reason, rank) order, and the shard is
written by the one shard writer. Counter: ``dropped_sample/items``.
"""

from __future__ import annotations

import apache_beam as beam

from pipeline.beam import files
from pipeline.beam.blobstore import get_blob
from pipeline.beam.counters import count
from pipeline.beam.shards import write_shard_to
from pipeline.dropped import DroppedItem, ordered, rank, to_sample

DROPPED_DIR = "dropped"
SHARD = "dropped-00000"


class SampleDropped(beam.PTransform):
    """DroppedItems from every stage -> the dropped shard's manifest entry."""

    def __init__(self, out_dir: str, image_root: str, per_reason: int):
        super().__init__()
        if per_reason < 1:
            raise ValueError("per_reason must be at least 1")
        self.out_dir, self.image_root, self.per_reason = out_dir, image_root, per_reason

    def expand(self, items):
        return (
            items
            | "ByReason" >> beam.Map(lambda it: ((it.stage, it.reason), (rank(it), it)))
            | "SmallestPerReason" >> beam.combiners.Top.SmallestPerKey(self.per_reason, key=lambda v: v[0])
            | "AllReasons" >> beam.combiners.ToList()
            | "WriteDropped" >> beam.ParDo(WriteDroppedFn(self.out_dir, self.image_root))
        )


class WriteDroppedFn(beam.DoFn):
    """[((stage, reason), [(rank, item)])] -> ``OUTPUT/dropped/dropped-00000.{tar,parquet,manifest.json}``."""

    def __init__(self, out_dir: str, image_root: str):
        self.out_dir, self.image_root = out_dir, image_root

    def process(self, groups):
        items = ordered(groups)
        samples = (to_sample(item, self._load) for item in items)
        entry = write_shard_to(files.join(self.out_dir, DROPPED_DIR), SHARD, samples)
        count("dropped_sample", "items", entry.samples)
        yield entry.to_json()

    def _load(self, blob: str) -> bytes | None:
        try:
            return get_blob(self.image_root, blob)
        except (OSError, ValueError):  # a blob that is gone: the image is named, not shown
            return None


def document_drops(stage: str):
    """``(reason, doc)`` -> a DroppedItem, for a stage's ``dropped`` output."""
    from pipeline.dropped import from_document

    return lambda reason, doc: from_document(stage, reason, doc)


__all__ = ["DroppedItem", "SampleDropped", "document_drops"]
