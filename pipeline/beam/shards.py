"""Beam layer of shard writing, for both jobs: fixed-size shards in key order, written once.

:class:`AssignShards` numbers the records into shards deterministically; :class:`WriteShardsFn`
turns one shard's records into samples (image bytes read back from the blob store) and writes
tar + parquet index + manifest atomically through :mod:`pipeline.shards.writer`. Counters:
``write/shards``, ``write/<what the kind holds>`` (``sequences`` and ``images`` for the
corpus job, ``pairs`` for the pairs job), ``write/shards_already_complete`` on resume, and
for pairs ``pairs/<status>`` for every row (img2dataset's per-shard ``_stats.json`` too).
"""

from __future__ import annotations

import json
import os
import tempfile
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline.beam.blobstore import get_blob
from pipeline.beam.counters import count
from pipeline.beam.progress import ProgressSink
from pipeline.pairs import records as pr
from pipeline.sequences.cut import to_sample
from pipeline.shards import format as sf
from pipeline.shards import manifest
from pipeline.shards import writer as sw


def _bucket(key: str, buckets: int) -> int:
    return int(key[:8], 16) % buckets


class AssignShards(beam.PTransform):
    """(key, record) -> (shard index, [(key, record)]) with fixed-size shards in key order.

    Deterministic and scalable: keys are bucketed by hash, bucket sizes (a small side
    input) give each bucket its global offset, each bucket sorts its own keys.
    """

    def __init__(self, samples_per_shard: int, buckets: int = 64):
        super().__init__()
        self.size, self.buckets = samples_per_shard, buckets

    def expand(self, seqs):
        buckets, size = self.buckets, self.size
        by_bucket = seqs | "KeyByBucket" >> beam.Map(lambda kv: (_bucket(kv[0], buckets), kv))
        sizes = by_bucket | "BucketSizes" >> beam.combiners.Count.PerKey()

        def place(element, sizes):
            bucket, items = element
            offset = sum(n for b, n in sizes.items() if b < bucket)
            for rank, kv in enumerate(sorted(items, key=lambda kv: kv[0])):
                yield (offset + rank) // size, kv

        return (
            by_bucket
            | "GroupBuckets" >> beam.GroupByKey()
            | "Place" >> beam.FlatMap(place, sizes=beam.pvalue.AsDict(sizes))
            | "GroupShards" >> beam.GroupByKey()
        )


class WriteShardsFn(beam.DoFn):
    """(shard index, [(key, record)]) -> a finished shard and its manifest entry.

    ``kind`` is ``interleaved`` (records are the corpus job's sequence records) or ``pair``
    (``PairRecord``s, failed ones included: they are counted and listed in the shard's
    ``_stats.json``, only successful ones become samples).
    """

    def __init__(self, out_dir: str, image_root: str, prefix: str, resume: bool, kind: str,
                 progress_root: str | None = None):
        if kind not in (sf.KIND_INTERLEAVED, sf.KIND_PAIR):
            raise ValueError(f"unknown shard kind {kind!r}")
        self.out_dir, self.image_root, self.prefix = out_dir, image_root, prefix
        self.resume, self.kind, self.progress_root = resume, kind, progress_root

    def setup(self):
        self.progress = ProgressSink(self.progress_root)

    def process(self, element):
        index, items = element
        name = sw.shard_name(self.prefix, index)
        if self.resume and _is_complete(self.out_dir, name):
            count("write", "shards_already_complete")
            return
        items = sorted(items, key=lambda kv: kv[0])
        if self.kind == sf.KIND_INTERLEAVED:
            samples = (to_sample(k, r, self._load) for k, r in items)
        else:
            samples = self._pair_samples(name, [r for _, r in items])
        entry = _write(self.out_dir, name, samples)
        count("write", "shards")
        if self.kind == sf.KIND_INTERLEAVED:
            count("write", "sequences", entry.samples)
            count("write", "images", entry.images)
        else:
            count("write", "pairs", entry.samples)
        self.progress.add("samples_written", entry.samples)
        self.progress.flush()
        yield entry.to_json()

    def _pair_samples(self, name: str, records: list[pr.PairRecord]):
        start = time.time()
        for r in records:
            count("pairs", r.status)
        # Stats before the shard: the manifest written last by _write marks both complete.
        _write_text(self.out_dir, f"{name}_stats.json",
                    json.dumps(pr.shard_stats(records, start, time.time()), indent=4))
        return (pr.to_sample(r, self._load(r)) for r in records if r.ok)

    def _load(self, image) -> bytes:
        """Bytes of an ``ImageRef`` or a ``PairRecord`` (both carry sha256 and ext)."""
        return get_blob(self.image_root, f"{image.sha256}.{image.ext}")


def _is_complete(out_dir: str, name: str) -> bool:
    if "://" in out_dir and not out_dir.startswith("file://"):
        return FileSystems.exists(f"{out_dir}/{name}{manifest.MANIFEST_SUFFIX}")
    return manifest.is_complete(out_dir, name)


def _write(out_dir: str, name: str, samples) -> manifest.ManifestEntry:
    """Local: atomic write in place. Remote: write locally, then upload, manifest last."""
    if "://" not in out_dir or out_dir.startswith("file://"):
        return sw.write_shard(out_dir.removeprefix("file://"), name, samples)
    with tempfile.TemporaryDirectory() as tmp:
        entry = sw.write_shard(tmp, name, samples)
        for suffix in (manifest.TAR_SUFFIX, manifest.INDEX_SUFFIX, manifest.MANIFEST_SUFFIX):
            src, dst = os.path.join(tmp, name + suffix), f"{out_dir}/{name}{suffix}"
            with open(src, "rb") as fin, FileSystems.create(dst) as fout:
                fout.write(fin.read())
        return entry


def _write_text(out_dir: str, name: str, text: str) -> None:
    if "://" in out_dir and not out_dir.startswith("file://"):
        with FileSystems.create(f"{out_dir}/{name}") as f:
            f.write(text.encode())
        return
    out_dir = out_dir.removeprefix("file://")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
