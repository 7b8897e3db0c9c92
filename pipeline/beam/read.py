"""Beam layer of reading crawls: file patterns -> page records, and crawl images to the blob store;
documents of the public interleaved corpora (OBELICS, MMC4), recognised by content, as Documents.

Counters ``read/<reason>``: files, pages, image records, corpus documents, and every record
dropped by reason.
"""

from __future__ import annotations

import logging
import zipfile

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.beam import files
from pipeline.beam.blobstore import BlobWriter
from pipeline.beam.counters import count
from pipeline.beam.progress import ProgressSink
from pipeline.read import corpora, mmc4, obelics, warc
from pipeline.shards import format as sf

log = logging.getLogger(__name__)


def _open(path: str):
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def plan_file_splits(meta, split_bytes: int = warc.SPLIT_BYTES):
    """A matched file -> ``(path, start, end)`` ranges: byte ranges (big per-record-gzip WARCs
    split), or row-group ranges for an OBELICS parquet file (one per row group)."""
    path, size = meta.path, meta.size_in_bytes
    if not warc.is_warc(path) and not warc.is_html(path):
        with _open(path) as f:
            if corpora.sniff(f) == corpora.OBELICS:  # OBELICS parquet: one range per row group
                return [(path, g, g + 1) for g in range(obelics.row_groups(f))]
        return [(path, 0, size)]
    if not warc.is_warc(path) or size <= split_bytes:
        return [(path, 0, size)]
    with _open(path) as f:
        head = f.read(1 << 20)
    return [(path, s, e) for s, e in warc.plan_splits(head, size, split_bytes)]


class ReadRecordsFn(beam.DoFn):
    """A file range -> page records (main), crawl image blob names (``images``) and, when
    ``documents``, OBELICS/MMC4 Documents (``documents``), streamed. ``min_similarity``: MMC4
    images matched to their sentence below this CLIP similarity are dropped."""

    def __init__(self, crawl_root: str, progress_root: str | None = None, *, documents: bool = False,
                 min_similarity: float = 0.0):
        self.crawl_root, self.progress_root = crawl_root, progress_root
        self.documents, self.min_similarity = documents, min_similarity

    def setup(self):
        self.progress = ProgressSink(self.progress_root)
        self.blobs = BlobWriter(self.crawl_root)

    def teardown(self):
        self.blobs.close()

    def process(self, element):
        path, start, end = element
        if start == 0:
            count("read", "files")
        if warc.is_warc(path):
            with _open(path) as f:
                yield from self._records(warc.iter_warc_range(f, start, end, path))
        elif warc.is_html(path):
            with _open(path) as f:
                data = f.read(warc.MAX_HTML_BYTES + 1)  # more is too large, compressed or not
            yield from self._records([warc.read_html_file(path, data, _sidecar(path))])
        else:
            with _open(path) as f:
                kind = corpora.sniff(f) if self.documents else None
                if kind is None:
                    count("read", "unknown_file_type")
                    log.warning("skipping %s: neither WARC, HTML, OBELICS nor MMC4", path)
                    return
                docs = (_obelics_docs(obelics.iter_rows(f, start, end)) if kind == corpora.OBELICS
                        else _mmc4_docs(mmc4.open_lines(f), self.min_similarity))
                try:
                    for doc in docs:
                        self.progress.add("pages_read")
                        yield beam.pvalue.TaggedOutput("documents", doc)
                except (OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
                    # A truncated or corrupt file: what it gave so far stays, the rest is counted.
                    count("read", f"corrupt_{kind}_file")
                    log.warning("corrupt_%s_file %s: %s: %s", kind, path, type(e).__name__, e)

    def _records(self, records):
        for rec in records:
            if isinstance(rec, warc.PageRecord):
                count("read", "pages")
                self.progress.add("pages_read")
                yield rec
            elif isinstance(rec, warc.ImageRecord):
                count("read", "image_records")
                # Named by content: two captures of one URL are two blobs, never a race on one.
                name = sf.sha256_hex(rec.body)
                self.blobs.put(name, rec.body)
                # The record's X-Robots-Tag travels with it: the crawl's copy of an image that
                # opted out is refused like a download would be.
                yield beam.pvalue.TaggedOutput("images", (rec.url, (name, rec.robots)))
            else:
                count("read", rec.reason)
                if rec.reason.startswith("corrupt"):
                    log.warning("%s %s: %s", rec.reason, rec.url, rec.detail)

    def finish_bundle(self):
        self.blobs.flush()  # before the bundle's outputs, which name the blobs, are committed
        self.progress.flush()


def _obelics_docs(rows):
    for row in rows:
        doc, reason = obelics.to_document(row)
        count("read", "obelics_documents" if doc else reason)
        if doc:
            yield doc


def _mmc4_docs(lines, min_similarity: float):
    for line in lines:
        obj = mmc4.parse_line(line)
        doc, reason, drops = mmc4.to_document(obj, min_similarity=min_similarity) if obj else (None, "mmc4_malformed", {})
        count("read", "mmc4_documents" if doc else reason)
        for why, n in drops.items():
            count("read", why, n)
        if doc:
            yield doc


def _sidecar(path: str) -> str | None:
    """The URL in ``PATH.url`` beside an HTML file, if there is one."""
    sidecar = path + ".url"
    if not files.exists(sidecar):
        return None
    return warc.sidecar_url(files.read_bytes(sidecar)[:65536].decode("utf-8", errors="replace"))


class ReadCrawl(beam.PTransform):
    """File patterns -> (pages, crawl images as ``(url, (blob name, X-Robots-Tag values))``), and
    with ``documents=True`` a third PCollection: OBELICS/MMC4 documents among the inputs.

    The matched files are reshuffled before their splits are planned (planning reads each big
    file's head: 90,000 WARCs are planned on every worker at once, not one after another), and
    big WARC files are split into byte ranges at record boundaries, and the ranges (not the
    page bytes) are shuffled, so one huge WARC spreads over every worker. Moving raw HTML
    (~170 KB a page) through the runner instead cost ~6 ms of CPU per page (bench/corpus.py),
    as much as extracting it: pages are extracted where they are read.
    """

    def __init__(self, patterns: list[str], crawl_root: str, progress_root: str | None = None,
                 split_bytes: int = warc.SPLIT_BYTES, *, documents: bool = False, min_similarity: float = 0.0):
        super().__init__()
        self.patterns, self.crawl_root, self.progress_root = patterns, crawl_root, progress_root
        self.split_bytes, self.documents, self.min_similarity = split_bytes, documents, min_similarity

    def expand(self, pbegin):
        records = (
            pbegin
            | "Patterns" >> beam.Create(sorted(self.patterns))
            | "Match" >> fileio.MatchAll()
            | "SpreadFiles" >> beam.Reshuffle()
            | "Split" >> beam.FlatMap(plan_file_splits, split_bytes=self.split_bytes)
            | "SpreadSplits" >> beam.Reshuffle()
            | "ReadRecords"
            >> beam.ParDo(ReadRecordsFn(self.crawl_root, self.progress_root, documents=self.documents,
                                        min_similarity=self.min_similarity)).with_outputs(
                "images", "documents", main="pages"
            )
        )
        if self.documents:
            return records.pages, records.images, records.documents
        return records.pages, records.images
