"""Beam layer of shard writing, for both jobs: fixed-size shards in key order, written once.

:class:`AssignShards` numbers the records into shards deterministically; :class:`WriteShardsFn`
turns one shard's records into samples (image bytes read back from the blob store) and writes
tar + parquet index + manifest atomically through :mod:`pipeline.shards.writer` (on an object
store: written in the worker's temporary directory, then uploaded, manifest last), and
emits the shard's histograms for the report (:class:`WriteHistograms` adds them up). Counters:
``write/shards``, ``write/<what the kind holds>`` (``sequences`` and ``images`` for the
corpus job, ``pairs`` for the pairs job), ``write/shards_already_complete`` on resume, and
for pairs ``pairs/<status>`` for every row (img2dataset's per-shard ``_stats.json`` too).
"""

from __future__ import annotations

import json
import math
import tempfile
import time

import apache_beam as beam

from pipeline.beam import files, manifests
from pipeline.beam.blobstore import BlobReader
from pipeline.beam.counters import count
from pipeline.beam.progress import ProgressSink
from pipeline.pairs import records as pr
from pipeline.sequences.cut import to_sample
from pipeline.shards import format as sf
from pipeline.shards import index, manifest
from pipeline.shards import writer as sw

KEYS_PER_BUCKET = 100_000


def bucket_of(key: str, buckets: int) -> int:
    """An order-preserving bucket of a hex key: keys in bucket b all sort before bucket b+1's."""
    return (int(key[:12], 16) * buckets) >> 48


def _rank(element, sizes: dict[int, int], size: int):
    """(bucket, its keys) -> (key, shard index): the key's rank among all keys, by bucket
    offset plus rank in the bucket. Only the bucket's keys are sorted, never records."""
    bucket, keys = element
    rank = sum(n for b, n in sizes.items() if b < bucket)
    last = None
    for key in sorted(keys):
        if key != last:  # a repeated key: one shard for all its records (the join sends them)
            yield key, rank // size
        last = key
        rank += 1


def _to_shard(element):
    key, grouped = element
    for shard in grouped["shard"]:
        for record in grouped["record"]:
            yield shard, (key, record)


class AssignShards(beam.PTransform):
    """(key, record) -> (shard index, [(key, record)]): shards of ``samples_per_shard`` records
    in the global order of their (hex) keys.

    Scales with the data: the keys alone (not the records) are counted, range-partitioned into
    ``ceil(n / keys_per_bucket)`` order-preserving buckets, and sorted per bucket; each key's
    global rank is its bucket's offset (bucket sizes, a side input of one number per bucket)
    plus its rank inside the bucket. Records join their shard index by key, so no element
    ever holds more than one shard's records, and the result does not depend on the number
    of buckets.
    """

    def __init__(self, samples_per_shard: int, keys_per_bucket: int = KEYS_PER_BUCKET):
        super().__init__()
        self.size, self.keys_per_bucket = samples_per_shard, keys_per_bucket

    def expand(self, records):
        per_bucket = self.keys_per_bucket
        keys = records | "Keys" >> beam.Map(lambda kv: kv[0])
        total = keys | "CountKeys" >> beam.combiners.Count.Globally()
        by_bucket = keys | "KeyByBucket" >> beam.Map(
            lambda k, n: (bucket_of(k, max(1, math.ceil(n / per_bucket))), k), n=beam.pvalue.AsSingleton(total))
        sizes = by_bucket | "BucketSizes" >> beam.combiners.Count.PerKey()
        shard_of = (
            by_bucket
            | "GroupBuckets" >> beam.GroupByKey()
            | "RankKeys" >> beam.FlatMap(_rank, sizes=beam.pvalue.AsDict(sizes), size=self.size)
        )
        return (
            {"shard": shard_of, "record": records}
            | "JoinShard" >> beam.CoGroupByKey()
            | "ToShard" >> beam.FlatMap(_to_shard)
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
        self.blobs = BlobReader(self.image_root)

    def teardown(self):
        self.blobs.close()

    def process(self, element):
        index_, items = element
        name = sw.shard_name(self.prefix, index_)
        if self.resume:
            done = manifests.complete_entry(self.out_dir, name)
            if done is not None:
                count("write", "shards_already_complete")
                yield done.to_json(), _index_histograms(self.out_dir, name)
                return
        items = sorted(items, key=lambda kv: kv[0])
        rows: list[dict] = []
        if self.kind == sf.KIND_INTERLEAVED:
            load = self.blobs.prefetch(_blob_name(im) for _, r in items for im in r["images"])
            samples = (to_sample(k, r, lambda im: load(_blob_name(im))) for k, r in items)
        else:
            samples = self._pair_samples(name, [r for _, r in items])
        entry = write_shard_to(self.out_dir, name, _tap(samples, rows))
        count("write", "shards")
        if self.kind == sf.KIND_INTERLEAVED:
            count("write", "sequences", entry.samples)
            count("write", "images", entry.images)
        else:
            count("write", "pairs", entry.samples)
        self.progress.add("samples_written", entry.samples)
        self.progress.flush()
        yield entry.to_json(), index.histograms(rows)

    def _pair_samples(self, name: str, records: list[pr.PairRecord]):
        start = time.time()
        for r in records:
            count("pairs", r.status)
        # Stats before the shard: the manifest written last by write_shard_to marks both complete.
        files.write_bytes(files.join(self.out_dir, f"{name}_stats.json"),
                          json.dumps(pr.shard_stats(records, start, time.time()), indent=4).encode())
        ok = [r for r in records if r.ok]
        load = self.blobs.prefetch(_blob_name(r) for r in ok)
        return (pr.to_sample(r, load(_blob_name(r))) for r in ok)


def _blob_name(image) -> str:
    """The store's name of an ``ImageRef``'s or a ``PairRecord``'s bytes."""
    return f"{image.sha256}.{image.ext}"


def _tap(samples, rows: list[dict]):
    """The samples, passing by: each one's index row is kept for the shard's histograms."""
    for sample in samples:
        rows.append(index.index_row(sample))
        yield sample


def _index_histograms(out_dir: str, name: str) -> dict:
    """A finished shard's histograms, from its parquet index (on resume)."""
    import pyarrow.parquet as pq

    with files.open_read(files.join(out_dir, name + manifest.INDEX_SUFFIX)) as f:
        return index.histograms(pq.read_table(f).to_pylist())


def write_shard_to(out_dir: str, name: str, samples) -> manifest.ManifestEntry:
    """Local: atomic write in place. Object store: write in the worker's temporary directory,
    then upload the tar, the index and, last, the manifest."""
    if not files.is_remote(out_dir):
        return sw.write_shard(files.local_path(out_dir), name, samples)
    with tempfile.TemporaryDirectory() as tmp:
        entry = sw.write_shard(tmp, name, samples)
        for suffix in (manifest.TAR_SUFFIX, manifest.INDEX_SUFFIX, manifest.MANIFEST_SUFFIX):
            files.upload(f"{tmp}/{name}{suffix}", files.join(out_dir, name + suffix))
        return entry


class _MergeHistograms(beam.CombineFn):
    def create_accumulator(self):
        return {}

    def add_input(self, acc, hist):
        return index.merge_histograms([acc, hist])

    def merge_accumulators(self, accs):
        return index.merge_histograms(accs)

    def extract_output(self, acc):
        return acc


class WriteHistograms(beam.PTransform):
    """(manifest entry, histograms) of every shard -> their sum, written as JSON to ``path``
    (one small file whatever the job's size: one count per distinct value)."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def expand(self, written):
        path = self.path
        return (
            written
            | "Histograms" >> beam.Map(lambda e: e[1])
            | "AddUp" >> beam.CombineGlobally(_MergeHistograms())
            | "Write" >> beam.Map(lambda h: files.write_json(path, h))
        )
