"""The pairs job's Beam stages: thin wrappers over pipeline.read.urllists, pipeline.pairs and
the caption and CLIP rules of pipeline.filter.

Candidates (``PairRecord``) come from crawled documents or URL lists, have their captions
checked (the one counting filter DoFn), are fetched through the images module
(``FetchUnique``: each unique URL once, crawl copy first), deduplicated by (image sha256,
caption), optionally CLIP-scored and filtered, and written by the shared shard writer.
Every candidate that reached the fetch stage reaches a shard, successful or not, so each
shard's ``NAME_stats.json`` accounts for its rows. Counter namespaces: ``urllist``,
``captions``, ``pairs``, ``clip``, ``img2dataset`` (plus ``read``/``extract``/``images``
from the shared stages).
"""

from __future__ import annotations

import logging
import zlib

import apache_beam as beam
from apache_beam.io import fileio

from pipeline.beam import files
from pipeline.beam.blobstore import BlobReader, BlobWriter
from pipeline.beam.combine import CombinePerKeyBounded, Smallest
from pipeline.beam.counters import count
from pipeline.beam.filter import DROPPED, FilterFn, caption_subjects, choose_caption, clip_subjects
from pipeline.pairs import records as pr

log = logging.getLogger(__name__)


class ReadUrlChunkFn(beam.DoFn):
    """(path, chunk) -> PairRecord candidates; unreadable rows and rows without a URL are
    counted by reason and dropped."""

    def __init__(self, config):
        self.config = config

    def process(self, element):
        from pipeline.read.urllists import read_chunk

        path, chunk, label = element
        for row in read_chunk(path, chunk, self.config, label, opener=files.open_read):
            count("urllist", "rows")
            if row.error:
                count("urllist", row.error)
                continue
            if not row.url:
                count("urllist", "missing_url")
                continue
            yield pr.PairRecord(key=row.key, url=row.url, caption=row.caption, extra=row.extra)


class ReadUrlLists(beam.PTransform):
    """File patterns -> candidates; each parquet row group / text file is read by one worker.
    ``labels`` (path -> label, from ``urllists.file_labels`` at launch) keep row keys unique
    when two lists share a file name."""

    def __init__(self, patterns: list[str], config, labels: dict[str, str] | None = None):
        super().__init__()
        self.patterns, self.config, self.labels = patterns, config, labels or {}

    def expand(self, pbegin):
        from pipeline.read.urllists import chunks

        config, labels = self.config, self.labels
        return (
            pbegin
            | "Patterns" >> beam.Create(sorted(self.patterns))
            | "Match" >> fileio.MatchAll()
            | "SpreadFiles" >> beam.Reshuffle()
            | "Chunks" >> beam.FlatMap(lambda m: [(m.path, c, labels.get(m.path))
                                                  for c in chunks(m.path, config, opener=files.open_read)])
            | "SpreadChunks" >> beam.Reshuffle()
            | "ReadChunks" >> beam.ParDo(ReadUrlChunkFn(config))
        )


class CheckCaptions(beam.PTransform):
    """Candidates -> those whose caption (or first passing caption option) the caption rules
    keep, the caption normalised; counters ``captions/<reason>``."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.dropped = None  # issue 17: (reason, candidate) pairs, set once applied

    def expand(self, candidates):
        fn = FilterFn("caption", self.config, "captions", caption_subjects, choose_caption)
        checked = candidates | "Check" >> beam.ParDo(fn).with_outputs(DROPPED, main="kept")
        self.dropped = checked.dropped
        return checked.kept


class CrawlCandidatesFn(beam.DoFn):
    """Document -> a candidate per image, with its caption options (``sources`` in order)."""

    def __init__(self, sources: tuple[str, ...]):
        self.sources = sources

    def process(self, doc):
        if "noimageai" in doc.opt_out and doc.images:
            count("captions", "page_noimageai", len(doc.images))
        yield from pr.crawl_candidates(doc, self.sources)


class FetchPairs(beam.PTransform):
    """(candidates, crawl images) -> candidates with their image outcome applied (each image
    URL fetched once; the outcome joined back to every candidate, streamed per URL)."""

    def __init__(self, image_config, crawl_root, image_root, progress_root=None):
        super().__init__()
        self.args = (image_config, crawl_root, image_root)
        self.progress_root = progress_root

    def expand(self, pcolls):
        from pipeline.beam.images import FetchUnique
        from pipeline.beam.joins import join_streamed

        candidates, crawl = pcolls
        refs = candidates | "ToRefs" >> beam.Map(lambda r: (r.url, pr.to_ref(r)))
        requests = (
            refs
            | "Referer" >> beam.MapTuple(lambda url, ref: (url, ref[2]))
            | "OnePerUrl" >> CombinePerKeyBounded(Smallest())
            | "AsRequest" >> beam.MapTuple(lambda url, page: (url, (page, None)))
        )
        fetched = (requests, crawl) | "FetchUnique" >> FetchUnique(*self.args, progress_root=self.progress_root)
        outcomes = fetched | "Outcome" >> beam.Map(lambda t: (t[0], t[1]))
        return join_streamed(outcomes, refs, "PerCandidate") | "Apply" >> beam.MapTuple(
            lambda url, outcome, ref: pr.with_outcome(pr.from_ref(url, ref), outcome))


def _salt(rec) -> int:
    return zlib.crc32(rec.key.encode()) % DedupPairs.FANOUT


class DedupPairs(beam.PTransform):
    """Successful records sharing (image sha256, caption) keep only the smallest key.

    A popular image with a popular caption is one hot key: it is split ``FANOUT`` ways by a
    hash of the record key; each part keeps its smallest key (the rest are duplicates of it),
    then the parts' survivors (at most ``FANOUT`` per key) keep the smallest of all. Both
    steps stream over their grouped values (``pairs.records.dedup_group``).
    """

    FANOUT = 16

    def expand(self, records):
        ok = records | "OnlyOk" >> beam.Filter(lambda r: r.ok)
        rest = records | "NotOk" >> beam.Filter(lambda r: not r.ok)
        parts = (
            ok
            | "ByPairAndSalt" >> beam.Map(lambda r: ((r.sha256, r.caption, _salt(r)), r))
            | "GroupParts" >> beam.GroupByKey()
            | "SmallestPerPart" >> beam.FlatMap(lambda kv: pr.dedup_group(kv[1]))
        )
        part_dups = parts | "PartDuplicates" >> beam.Filter(lambda r: not r.ok)
        deduped = (
            parts
            | "PartSmallest" >> beam.Filter(lambda r: r.ok)
            | "ByPair" >> beam.Map(lambda r: ((r.sha256, r.caption), r))
            | "GroupPairs" >> beam.GroupByKey()
            | "KeepSmallestKey" >> beam.FlatMap(lambda kv: pr.dedup_group(kv[1]))
        )
        return (deduped, part_dups, rest) | "Rejoin" >> beam.Flatten()


class ClipScoreFn(beam.DoFn):
    """A batch of records -> the same records, successful ones with ``clip_score`` set."""

    def __init__(self, config, image_root: str):
        self.config, self.image_root = config, image_root

    def setup(self):
        from pipeline.filter.clip import ClipScorer

        c = self.config
        self.scorer = ClipScorer(c.model, c.pretrained, device=c.device, batch_size=c.batch_size,
                                 model_config=c.model_config)
        self.blobs = BlobReader(self.image_root)

    def teardown(self):
        self.blobs.close()

    def process(self, batch):
        from dataclasses import replace

        ok = [r for r in batch if r.ok]
        names = [f"{r.sha256}.{r.ext}" for r in ok]
        load = self.blobs.prefetch(names)
        images = [load(n) for n in names]
        scores = iter(self.scorer.score(images, [r.caption for r in ok]) if ok else [])
        count("clip", "scored", len(ok))
        # New records, not mutated inputs: Beam may hand the same objects to other consumers.
        for rec in batch:
            yield replace(rec, clip_score=next(scores)) if rec.ok else rec


class _CountBins(beam.CombineFn):
    """Scores -> {score bin: count} (``filter.clip.score_bin``): one number per bin in use."""

    def create_accumulator(self):
        return {}

    def add_input(self, acc, score):
        from pipeline.filter.clip import score_bin

        b = score_bin(score)
        acc[b] = acc.get(b, 0) + 1
        return acc

    def merge_accumulators(self, accs):
        out: dict[int, int] = {}
        for a in accs:
            for b, n in a.items():
                out[b] = out.get(b, 0) + n
        return out

    def extract_output(self, acc):
        return acc


class TopFractionCut(beam.PTransform):
    """Every score of the job -> the exact top-fraction cut score (a singleton), in two passes
    that never hold all scores in one place: bin counts find the bin holding the cut, then
    only that bin's scores are collected (``filter.clip.cut_bin``, ``cut_in_bin``)."""

    def __init__(self, fraction: float):
        super().__init__()
        self.fraction = fraction

    def expand(self, scores):
        import math

        from pipeline.filter.clip import cut_bin, cut_in_bin, score_bin

        fraction = self.fraction
        where = (
            scores
            | "CountBins" >> beam.CombineGlobally(_CountBins())
            | "FindBin" >> beam.Map(lambda counts: cut_bin(counts, fraction))
        )
        side = beam.pvalue.AsSingleton(where)
        return (
            scores
            | "InCutBin" >> beam.Filter(lambda s, w: w is not None and score_bin(s) == w[0], w=side)
            | "CollectBin" >> beam.combiners.ToList()
            | "Cut" >> beam.Map(lambda bin_scores, w: math.inf if w is None else cut_in_bin(bin_scores, w[1]), w=side)
        )


class ClipFilter(beam.PTransform):
    """Score every successful pair; the clip rules (threshold, job-wide top fraction) turn the
    ones they drop into failed rows, which stay in their shard's stats."""

    def __init__(self, config, image_root: str):
        super().__init__()
        self.config, self.image_root = config, image_root

    def expand(self, records):
        c = self.config
        scored = (
            records
            | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=max(1, c.batch_size))
            | "Score" >> beam.ParDo(ClipScoreFn(c, self.image_root))
        )
        if not c.filters:
            return scored
        side = {}
        if c.top_fraction is not None:
            side["cut"] = beam.pvalue.AsSingleton(
                scored
                | "Scores" >> beam.FlatMap(lambda r: [r.clip_score] if r.ok else [])
                | "TopFractionCut" >> TopFractionCut(c.top_fraction)
            )
        checked = scored | "Check" >> beam.ParDo(FilterFn("clip", c, "clip", clip_subjects), **side).with_outputs(
            DROPPED, main="kept")
        failed = checked.dropped | "AsFailedRows" >> beam.MapTuple(
            lambda reason, rec: rec.failed(reason, f"clip_score {rec.clip_score:.4f}"))
        return (checked.kept, failed) | "Rejoin" >> beam.Flatten()


class ReadImg2datasetShards(beam.PTransform):
    """img2dataset's shard paths -> PairRecords, one shard per worker (``--downloader img2dataset``)."""

    def __init__(self, shard_paths: list[str], image_root: str):
        super().__init__()
        self.shard_paths, self.image_root = sorted(shard_paths), image_root

    def expand(self, pbegin):
        return (
            pbegin
            | "Shards" >> beam.Create(self.shard_paths)
            | "Spread" >> beam.Reshuffle()
            | "Records" >> beam.ParDo(_Img2datasetShardFn(self.image_root))
        )


class _Img2datasetShardFn(beam.DoFn):
    def __init__(self, image_root: str):
        self.image_root = image_root

    def setup(self):
        self.blobs = BlobWriter(self.image_root)

    def teardown(self):
        self.blobs.close()

    def process(self, path):
        from pipeline.pairs.img2dataset import records_of_shard

        yield from records_of_shard(path, put=self.blobs.put, on_invalid=lambda reason: count("img2dataset", reason))

    def finish_bundle(self):
        self.blobs.flush()
