"""Thin Beam wrappers around the pure stages: read, extract, sequences, shard writing.

Every DoFn counts what it does under a stage namespace (``read``, ``extract``,
``sequences``, ``write``) with snake_case reasons; the job turns the counters into
``stats.json``. Heavy resources are created in ``setup()``.
"""

from __future__ import annotations

import logging
import os
import tempfile

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline.shards import format as sf
from pipeline.shards import writer as sw
from pipeline.read import warc
from pipeline.beam.blobstore import get_blob, put_blob
from pipeline.beam.progress import ProgressSink
from pipeline.sequences.cut import to_sample

log = logging.getLogger(__name__)


def count(namespace: str, name: str, n: int = 1) -> None:
    Metrics.counter(namespace, name).inc(n)


def _open(path: str):
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def plan_file_splits(meta, split_bytes: int = warc.SPLIT_BYTES):
    """A matched file -> ``(path, start, end)`` byte ranges (big per-record-gzip WARCs split)."""
    path, size = meta.path, meta.size_in_bytes
    if not warc.is_warc(path) or size <= split_bytes:
        return [(path, 0, size)]
    with _open(path) as f:
        head = f.read(1 << 20)
    return [(path, s, e) for s, e in warc.plan_splits(head, size, split_bytes)]


class ReadRecordsFn(beam.DoFn):
    """A file range -> page records (main) and crawl image blob names (``images``), streamed."""

    def __init__(self, crawl_root: str, progress_root: str | None = None):
        self.crawl_root, self.progress_root = crawl_root, progress_root

    def setup(self):
        self.progress = ProgressSink(self.progress_root)

    def process(self, element):
        path, start, end = element
        if start == 0:
            count("read", "files")
        if warc.is_warc(path):
            with _open(path) as f:
                yield from self._records(warc.iter_warc_range(f, start, end, path))
        elif warc.is_html(path):
            with _open(path) as f:
                yield from self._records([warc.read_html_file(path, f.read())])
        else:
            count("read", "unknown_file_type")
            log.warning("skipping %s: neither WARC nor HTML", path)

    def _records(self, records):
        for rec in records:
            if isinstance(rec, warc.PageRecord):
                count("read", "pages")
                self.progress.add("pages_read")
                yield rec
            elif isinstance(rec, warc.ImageRecord):
                count("read", "image_records")
                name = sf.sha256_hex(rec.url.encode("utf-8"))
                put_blob(self.crawl_root, name, rec.body)
                # The record's X-Robots-Tag travels with it: the crawl's copy of an image that
                # opted out is refused like a download would be.
                yield beam.pvalue.TaggedOutput("images", (rec.url, (name, rec.robots)))
            else:
                count("read", rec.reason)
                if rec.reason.startswith("corrupt"):
                    log.warning("%s %s: %s", rec.reason, rec.url, rec.detail)

    def finish_bundle(self):
        self.progress.flush()


class ReadCrawl(beam.PTransform):
    """File patterns -> (pages, crawl images as ``(url, (blob name, X-Robots-Tag values))``).

    Big WARC files are split into byte ranges at record boundaries, and the ranges (not the
    page bytes) are shuffled, so one huge WARC spreads over every worker. Moving raw HTML
    (~170 KB a page) through the runner instead cost ~6 ms of CPU per page (bench/corpus.py),
    as much as extracting it: pages are extracted where they are read.
    """

    def __init__(self, patterns: list[str], crawl_root: str, progress_root: str | None = None,
                 split_bytes: int = warc.SPLIT_BYTES):
        super().__init__()
        self.patterns, self.crawl_root, self.progress_root = patterns, crawl_root, progress_root
        self.split_bytes = split_bytes

    def expand(self, pbegin):
        records = (
            pbegin
            | "Patterns" >> beam.Create(sorted(self.patterns))
            | "Match" >> fileio.MatchAll()
            | "Split" >> beam.FlatMap(plan_file_splits, split_bytes=self.split_bytes)
            | "SpreadSplits" >> beam.Reshuffle()
            | "ReadRecords"
            >> beam.ParDo(ReadRecordsFn(self.crawl_root, self.progress_root)).with_outputs(
                "images", main="pages"
            )
        )
        return records.pages, records.images


class ExtractFn(beam.DoFn):
    """Page record -> Document. Pages that opt out with ``noai`` (robots meta tag, or the
    response's X-Robots-Tag for our agent token) are dropped here; a ``noimageai`` header
    joins the document's opt-outs so its images are never used."""

    def __init__(self, options=None, agent_token: str | None = None):
        self.options, self.agent_token = options, agent_token

    def setup(self):
        from pipeline.images import ImageConfig

        self.token = self.agent_token or ImageConfig().agent_token

    def process(self, rec: warc.PageRecord):
        from pipeline.extract import extract_with_reason
        from pipeline.images.body import header_opt_outs

        kwargs = {"http_charset": rec.charset}
        if self.options is not None:
            kwargs["options"] = self.options
        doc, reason = extract_with_reason(rec.body, rec.url, **kwargs)
        if doc is None:
            count("extract", reason or "failed")
            return
        doc.opt_out = frozenset(doc.opt_out | header_opt_outs(rec.robots, self.token))
        if "noai" in doc.opt_out:
            count("extract", "opt_out_noai")
            return
        count("extract", "ok")
        yield doc


class SequencesFn(beam.DoFn):
    """(doc_id, url, nodes) -> sequence records (metadata only; image bytes stay in the store)."""

    def __init__(self, tokenizer: str | None, max_tokens: int, max_images: int,
                 keep_imageless: bool = False):
        self.tokenizer, self.max_tokens, self.max_images = tokenizer, max_tokens, max_images
        self.keep_imageless = keep_imageless

    def setup(self):
        from pipeline.sequences.cut import HFTokenCounter
        from pipeline.sequences.tokenizer import load_tokenizer

        tok, self.tokenizer_name = load_tokenizer(self.tokenizer)
        self.counter = HFTokenCounter(tok)

    def process(self, element):
        from pipeline.sequences.cut import cut_sequences, has_text_after_image

        doc_id, url, nodes = element
        seqs = cut_sequences(nodes, self.counter, max_tokens=self.max_tokens, max_images=self.max_images)
        for index, seq in enumerate(seqs):
            if not seq.images and not self.keep_imageless:
                count("sequences", "dropped_no_image")
                continue
            if seq.images and not has_text_after_image(seq):
                count("sequences", "dropped_no_text_after_image")
                continue
            count("sequences", "kept")
            count("sequences", "tokens", seq.num_tokens)
            yield sf.make_key(url, index), {
                "doc_id": doc_id, "url": url, "seq_index": index, "num_tokens": seq.num_tokens,
                "tokenizer": self.tokenizer_name, "segments": seq.segments, "images": seq.images,
            }


def _bucket(key: str, buckets: int) -> int:
    return int(key[:8], 16) % buckets


class AssignShards(beam.PTransform):
    """(key, record) -> (shard index, [records]) with fixed-size shards in key order.

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
    """(shard index, records) -> a finished shard (tar + parquet + manifest) and its entry."""

    def __init__(self, out_dir: str, image_root: str, prefix: str, resume: bool,
                 progress_root: str | None = None):
        self.out_dir, self.image_root, self.prefix = out_dir, image_root, prefix
        self.resume, self.progress_root = resume, progress_root

    def setup(self):
        self.progress = ProgressSink(self.progress_root)

    def process(self, element):
        index, records = element
        name = f"{self.prefix}-{index:05d}"
        if self.resume and _is_complete(self.out_dir, name):
            count("write", "shards_already_complete")
            return
        samples = [to_sample(k, r, self._load) for k, r in sorted(records, key=lambda kv: kv[0])]
        entry = _write(self.out_dir, name, samples)
        count("write", "shards")
        count("write", "sequences", entry.samples)
        count("write", "images", entry.images)
        self.progress.add("sequences_written", entry.samples)
        self.progress.flush()
        yield entry.to_json()

    def _load(self, m: sf.ImageRef) -> bytes:
        return get_blob(self.image_root, f"{m.sha256}.{m.ext}")


def _is_complete(out_dir: str, name: str) -> bool:
    if "://" in out_dir and not out_dir.startswith("file://"):
        return FileSystems.exists(f"{out_dir}/{name}{sw.MANIFEST_SUFFIX}")
    return sw.is_complete(out_dir, name)


def _write(out_dir: str, name: str, samples) -> sw.ManifestEntry:
    """Local: atomic write in place. Remote: write locally, then upload, manifest last."""
    if "://" not in out_dir or out_dir.startswith("file://"):
        return sw.write_shard(out_dir.removeprefix("file://"), name, samples)
    with tempfile.TemporaryDirectory() as tmp:
        entry = sw.write_shard(tmp, name, samples)
        for suffix in (sw.TAR_SUFFIX, sw.INDEX_SUFFIX, sw.MANIFEST_SUFFIX):
            src, dst = os.path.join(tmp, name + suffix), f"{out_dir}/{name}{suffix}"
            with open(src, "rb") as fin, FileSystems.create(dst) as fout:
                fout.write(fin.read())
        return entry
