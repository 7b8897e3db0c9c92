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

import array
import logging

import apache_beam as beam
from apache_beam.io import fileio

from pipeline.beam.blobstore import get_blob, put_blob
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

        path, chunk = element
        for row in read_chunk(path, chunk, self.config):
            count("urllist", "rows")
            if row.error:
                count("urllist", row.error)
                continue
            if not row.url:
                count("urllist", "missing_url")
                continue
            yield pr.PairRecord(key=row.key, url=row.url, caption=row.caption, extra=row.extra)


class ReadUrlLists(beam.PTransform):
    """File patterns -> candidates; each parquet row group / text file is read by one worker."""

    def __init__(self, patterns: list[str], config):
        super().__init__()
        self.patterns, self.config = patterns, config

    def expand(self, pbegin):
        from pipeline.read.urllists import chunks

        config = self.config
        return (
            pbegin
            | "Patterns" >> beam.Create(sorted(self.patterns))
            | "Match" >> fileio.MatchAll()
            | "Chunks" >> beam.FlatMap(lambda m: [(m.path, c) for c in chunks(m.path, config)])
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
    """(candidates, crawl images) -> candidates with their image outcome applied."""

    def __init__(self, image_config, crawl_root, image_root, progress_root=None):
        super().__init__()
        self.args = (image_config, crawl_root, image_root)
        self.progress_root = progress_root

    def expand(self, pcolls):
        from pipeline.beam.images import FetchUnique

        candidates, crawl = pcolls
        refs = candidates | "ToRefs" >> beam.Map(lambda r: (r.url, pr.to_ref(r)))
        fetched = (refs, crawl) | "FetchUnique" >> FetchUnique(*self.args, progress_root=self.progress_root)
        return fetched | "PerCandidate" >> beam.FlatMap(
            lambda e: [pr.with_outcome(pr.from_ref(e[0], ref), e[2]) for ref in e[1]]
        )


class DedupPairs(beam.PTransform):
    """Successful records sharing (image sha256, caption) keep only the smallest key."""

    def expand(self, records):
        ok = records | "OnlyOk" >> beam.Filter(lambda r: r.ok)
        rest = records | "NotOk" >> beam.Filter(lambda r: not r.ok)
        deduped = (
            ok
            | "BySha256Caption" >> beam.Map(lambda r: ((r.sha256, r.caption), r))
            | "GroupPairs" >> beam.GroupByKey()
            | "KeepSmallestKey" >> beam.FlatMap(lambda kv: pr.dedup_group(list(kv[1])))
        )
        return (deduped, rest) | "Rejoin" >> beam.Flatten()


class ClipScoreFn(beam.DoFn):
    """A batch of records -> the same records, successful ones with ``clip_score`` set."""

    def __init__(self, config, image_root: str):
        self.config, self.image_root = config, image_root

    def setup(self):
        from pipeline.filter.clip import ClipScorer

        c = self.config
        self.scorer = ClipScorer(c.model, c.pretrained, device=c.device, batch_size=c.batch_size,
                                 model_config=c.model_config)

    def process(self, batch):
        from dataclasses import replace

        ok = [r for r in batch if r.ok]
        images = [get_blob(self.image_root, f"{r.sha256}.{r.ext}") for r in ok]
        scores = iter(self.scorer.score(images, [r.caption for r in ok]) if ok else [])
        count("clip", "scored", len(ok))
        # New records, not mutated inputs: Beam may hand the same objects to other consumers.
        for rec in batch:
            yield replace(rec, clip_score=next(scores)) if rec.ok else rec


class _TopFractionCutFn(beam.CombineFn):
    """All scores of the job (8 bytes each, in one array) -> the top-fraction cut score.

    Exact rather than ApproximateQuantiles so "top 30%" keeps exactly that; the price is
    one worker holding N doubles (100M pairs: 800 MB). Use a threshold beyond that.
    """

    def __init__(self, fraction: float):
        self.fraction = fraction

    def create_accumulator(self):
        return array.array("d")

    def add_input(self, acc, score):
        acc.append(score)
        return acc

    def merge_accumulators(self, accs):
        out = array.array("d")
        for a in accs:
            out.extend(a)
        return out

    def extract_output(self, acc):
        from pipeline.filter.clip import top_fraction_threshold

        return top_fraction_threshold(acc, self.fraction)


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
                | "TopFractionCut" >> beam.CombineGlobally(_TopFractionCutFn(c.top_fraction))
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
        from pipeline.pairs.img2dataset import records_of_shard

        root = self.image_root
        return (
            pbegin
            | "Shards" >> beam.Create(self.shard_paths)
            | "Spread" >> beam.Reshuffle()
            | "Records" >> beam.FlatMap(lambda path: records_of_shard(
                path, put=lambda name, data: put_blob(root, name, data),
                on_invalid=lambda reason: count("img2dataset", reason)))
        )
