"""The pairs job's Beam stages: thin wrappers over captions, urllists, pairrecords, clipscore.

Candidates (``PairRecord``) come from crawled documents or URL lists, are fetched
through the images module (``FetchUnique``: each unique URL once, crawl copy first),
deduplicated by (image sha256, caption), optionally CLIP-scored and filtered, and
written into img2dataset-layout shards. Every candidate that reached the fetch
stage reaches a shard, successful or not, so each shard's ``NAME_stats.json``
accounts for its rows. Counter namespaces: ``urllist``, ``captions``, ``pairs``, ``clip``,
``write`` (plus ``read``/``extract``/``images`` from the shared stages).
"""

from __future__ import annotations

import array
import json
import logging
import os
import time

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems

from pipeline.pairs import records as pr
from pipeline.beam.blobstore import get_blob
from pipeline.beam.progress import ProgressSink
from pipeline.beam.read import _is_complete, _write, count

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


class FilterCaptionsFn(beam.DoFn):
    """Normalise and filter list captions; drops are counted under ``captions``."""

    def __init__(self, config):
        self.config = config

    def setup(self):
        from pipeline.filter.captions import CaptionFilter

        self.check = CaptionFilter(self.config)

    def process(self, rec: pr.PairRecord):
        from pipeline.filter.captions import normalize_caption

        caption = normalize_caption(rec.caption)
        keep, reason = self.check.check(caption)
        count("captions", reason)
        if keep:
            yield pr.replace(rec, caption=caption)


class CrawlCandidatesFn(beam.DoFn):
    """Document -> a candidate per image whose alt text (or figure caption) passes the filters."""

    def __init__(self, config, sources: tuple[str, ...]):
        self.config, self.sources = config, sources

    def setup(self):
        from pipeline.filter.captions import CaptionFilter

        self.check = CaptionFilter(self.config)

    def process(self, doc):
        for rec, reason in pr.crawl_candidates(doc, self.sources, self.check):
            count("captions", reason)
            if rec is not None:
                yield rec


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
            | "KeepFirst" >> beam.FlatMap(lambda kv: pr.dedup_group(list(kv[1])))
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


def _apply_cut(rec: pr.PairRecord, threshold, cut):
    from pipeline.filter.clip import drop_reason

    if rec.ok and rec.clip_score is not None:
        reason = drop_reason(rec.clip_score, threshold, cut)
        if reason:
            return rec.failed(reason, f"clip_score {rec.clip_score:.4f}")
    return rec


class ClipFilter(beam.PTransform):
    """Score every successful pair; drop by threshold and/or the job-wide top fraction."""

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
        if c.threshold is None and c.top_fraction is None:
            return scored
        cut = None
        if c.top_fraction is not None:
            cut = beam.pvalue.AsSingleton(
                scored
                | "Scores" >> beam.FlatMap(lambda r: [r.clip_score] if r.ok else [])
                | "TopFractionCut" >> beam.CombineGlobally(_TopFractionCutFn(c.top_fraction))
            )
        return scored | "Select" >> beam.Map(_apply_cut, threshold=c.threshold, cut=cut)


class WritePairShardsFn(beam.DoFn):
    """(shard index, [(key, record)]) -> NAME.tar/.parquet/_stats.json/.manifest.json; its entry."""

    def __init__(self, out_dir: str, image_root: str, prefix: str, resume: bool, progress_root=None):
        self.out_dir, self.image_root, self.prefix = out_dir, image_root, prefix
        self.resume, self.progress_root = resume, progress_root

    def setup(self):
        self.progress = ProgressSink(self.progress_root)

    def process(self, element):
        index, items = element
        name = shard_name(self.prefix, index)
        if self.resume and _is_complete(self.out_dir, name):
            count("write", "shards_already_complete")
            return
        start = time.time()
        records = [r for _, r in sorted(items, key=lambda kv: kv[0])]
        for r in records:
            count("pairs", r.status)
        samples = (pr.to_sample(r, get_blob(self.image_root, f"{r.sha256}.{r.ext}")) for r in records if r.ok)
        # Stats before the shard: the manifest written last by _write marks both complete.
        _write_text(self.out_dir, f"{name}_stats.json", json.dumps(
            pr.shard_stats(records, start, time.time()), indent=4))
        entry = _write(self.out_dir, name, samples)
        count("write", "shards")
        count("write", "pairs", entry.samples)
        self.progress.add("sequences_written", entry.samples)
        self.progress.flush()
        yield entry.to_json()


def shard_name(prefix: str, index: int) -> str:
    """img2dataset names shards ``00000``; a prefix gives ``PREFIX-00000``."""
    return f"{prefix}-{index:05d}" if prefix else f"{index:05d}"


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
