"""Beam layer for the corpus job's text stages: `FilterText` and `Deduplicate`.

Thin wrappers over the pure modules `pipeline.filter.text` and `pipeline.dedup`.
Elements are documents used by duck typing: only ``.url``, ``.text`` and
``.lang`` are read (the job passes `pipeline.document.Document`).

Retries: Beam discards the outputs of a failed bundle and runs it again, so a
stage is retry-safe when its outputs depend only on its inputs. Every DoFn
here is a pure function of its element, and every "keep one of these" choice
is a minimum under a total order on document content, never "the first one
seen", so bundle order, worker count and retries cannot change what is kept.

Counters: ``filter/<reason>`` for every document that enters `FilterText`
(``filter/kept`` included); ``dedup/url_duplicate``, ``dedup/exact_duplicate``,
``dedup/near_duplicate`` for each document dropped and ``dedup/unique`` for
each one that leaves `Deduplicate`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipeline.dedup import (
    DedupConfig,
    band_keys,
    lsh_params,
    normalize_url,
    signature_array,
    stable_hash,
    text_hash,
)
from pipeline.filter.text import TextFilter, TextFilterConfig

DROPPED = "dropped"


class TextFilterFn(beam.DoFn):
    """Runs `TextFilter` on each document: kept ones to the main output, ``(reason, doc)``
    to the ``"dropped"`` output so rejects can be written aside."""

    def __init__(self, config: TextFilterConfig | None = None) -> None:
        self.config = config or TextFilterConfig()
        self._filter: TextFilter | None = None
        self._counters: dict[str, Any] = {}

    def setup(self) -> None:
        self._filter = TextFilter(self.config)

    def process(self, doc: Any) -> Iterator[Any]:
        keep, reason = self._filter.check(doc.text, declared_lang=getattr(doc, "lang", None))
        if reason not in self._counters:
            self._counters[reason] = Metrics.counter("filter", reason)
        self._counters[reason].inc()
        if keep:
            yield doc
        else:
            yield beam.pvalue.TaggedOutput(DROPPED, (reason, doc))


class FilterText(beam.PTransform):
    """Documents → ``result.kept`` and ``result.dropped`` (``(reason, doc)`` pairs)."""

    def __init__(self, config: TextFilterConfig | None = None, label: str | None = None) -> None:
        super().__init__(label)
        self.config = config or TextFilterConfig()

    def expand(self, docs):
        return docs | "CheckText" >> beam.ParDo(TextFilterFn(self.config)).with_outputs(
            DROPPED, main="kept"
        )


# --- keep one document per key -------------------------------------------------------------


def url_rank(doc: Any) -> tuple:
    """Among captures of the same URL keep the longest text; ties by URL, then content."""
    return (-len(doc.text), doc.url, text_hash(doc.text), stable_hash(repr(doc)))


def text_rank(doc: Any) -> tuple:
    """Among pages with the same text keep the smallest normalised URL (then content)."""
    return (normalize_url(doc.url), doc.url, stable_hash(repr(doc)))


class _KeepBest(beam.CombineFn):
    """(count, best rank, best doc) per key. A CombineFn rather than GroupByKey so that a key
    with millions of copies (boilerplate pages) is reduced on many workers before the shuffle."""

    def __init__(self, rank: Callable[[Any], tuple]) -> None:
        self.rank = rank

    def create_accumulator(self):
        return 0, None, None

    def add_input(self, acc, doc):
        return self.merge_accumulators([acc, (1, self.rank(doc), doc)])

    def merge_accumulators(self, accumulators):
        count, best_rank, best = 0, None, None
        for n, rank, doc in accumulators:
            count += n
            if doc is not None and (best is None or rank < best_rank):
                best_rank, best = rank, doc
        return count, best_rank, best

    def extract_output(self, acc):
        return acc[0], acc[2]


class _EmitBest(beam.DoFn):
    def __init__(self, counter_name: str) -> None:
        self.counter_name = counter_name

    def setup(self) -> None:
        self._dropped = Metrics.counter("dedup", self.counter_name)

    def process(self, element) -> Iterator[Any]:
        _, (count, doc) = element
        self._dropped.inc(count - 1)
        yield doc


class KeepOnePerKey(beam.PTransform):
    """Group documents by ``key(doc)`` and keep the one with the smallest ``rank(doc)``."""

    def __init__(self, key: Callable, rank: Callable, counter_name: str, label=None) -> None:
        super().__init__(label)
        self.key, self.rank, self.counter_name = key, rank, counter_name

    def expand(self, docs):
        key = self.key
        return (
            docs
            | "Key" >> beam.Map(lambda d: (key(d), d))
            | "Best" >> beam.CombinePerKey(_KeepBest(self.rank))
            | "Emit" >> beam.ParDo(_EmitBest(self.counter_name))
        )


def url_key(doc: Any) -> str:
    return stable_hash(normalize_url(doc.url))


def text_key(doc: Any) -> str:
    return text_hash(doc.text)


class _CountFn(beam.DoFn):
    def __init__(self, namespace: str, name: str) -> None:
        self.namespace, self.name = namespace, name

    def setup(self) -> None:
        self._counter = Metrics.counter(self.namespace, self.name)

    def process(self, element) -> Iterator[Any]:
        self._counter.inc()
        yield element


# --- near duplicates: MinHash LSH -----------------------------------------------------------
#
# Each document gets a MinHash signature and one bucket key per LSH band; documents that share
# a bucket are candidates. Within a bucket the member with the smallest id is the bucket's
# representative and every other member whose estimated Jaccard with it reaches the threshold
# is marked a duplicate; a document is dropped iff some bucket marked it.
#
# Why not full connected components: components need an iterative join (log-many shuffles of
# the whole edge set) and chain unrelated pages through long paths of pairwise-similar ones,
# so one component can swallow thousands of distinct templates. The star rule is one shuffle,
# O(bucket size) work per bucket, and still keeps at least one document of every component:
# the component's smallest id is never marked (any bucket-mate that could mark it is smaller,
# would have to be similar to it, and so would be in the same component). Its cost is that a
# page can be dropped as a twin of a representative that is itself dropped as a twin of a third
# page it is less similar to; full components drop at least as much in that case.


def near_id(doc: Any) -> str:
    """Identity for the near-dup join: distinct whenever URL or text differ, even if the
    URL or exact-text stages were turned off."""
    return stable_hash(normalize_url(doc.url) + "\n" + text_hash(doc.text))


class _BandKeysFn(beam.DoFn):
    def __init__(self, config: DedupConfig) -> None:
        self.config = config

    def setup(self) -> None:
        self.bands, self.rows = lsh_params(self.config.threshold, self.config.num_perm)

    def process(self, element) -> Iterator[tuple[str, tuple[str, bytes]]]:
        doc_key, doc = element
        cfg = self.config
        sig = signature_array(
            doc.text, num_perm=cfg.num_perm, shingle_words=cfg.shingle_words, seed=cfg.seed
        )
        sig = sig.astype("<u4")  # bytes in a fixed byte order: compact and machine-independent
        for key in band_keys(sig, self.bands, self.rows):
            yield key, (doc_key, sig.tobytes())


def mark_bucket(
    bucket: tuple[str, Iterable[tuple[str, bytes]]], threshold: float
) -> Iterator[tuple[str, bool]]:
    """Mark every member similar enough to the bucket's smallest id. Two passes over the
    grouped iterable instead of a list: runners may stream a large group from disk."""
    _, members = bucket
    rep_id, rep_sig = None, None
    for member_id, sig in members:
        if rep_id is None or member_id < rep_id:
            rep_id, rep_sig = member_id, sig
    rep = np.frombuffer(rep_sig, dtype="<u4")
    for member_id, sig in members:
        if member_id != rep_id and np.mean(np.frombuffer(sig, dtype="<u4") == rep) >= threshold:
            yield member_id, True


class _DropMarkedFn(beam.DoFn):
    def setup(self) -> None:
        self._dropped = Metrics.counter("dedup", "near_duplicate")

    def process(self, element) -> Iterator[Any]:
        _, grouped = element
        marked = any(True for _ in grouped["marks"])
        for doc in grouped["docs"]:
            if marked:
                self._dropped.inc()
            else:
                yield doc


class NearDedup(beam.PTransform):
    """Drop near-duplicates found by MinHash LSH (see the comment above for the rule)."""

    def __init__(self, config: DedupConfig, label: str | None = None) -> None:
        super().__init__(label)
        self.config = config

    def expand(self, docs):
        threshold = self.config.threshold
        keyed = docs | "KeyById" >> beam.Map(lambda d: (near_id(d), d))
        marks = (
            keyed
            | "BandKeys" >> beam.ParDo(_BandKeysFn(self.config))
            | "GroupBuckets" >> beam.GroupByKey()
            | "MarkDuplicates" >> beam.FlatMap(mark_bucket, threshold)
        )
        return (
            {"docs": keyed, "marks": marks}
            | "JoinMarks" >> beam.CoGroupByKey()
            | "DropMarked" >> beam.ParDo(_DropMarkedFn())
        )


class Deduplicate(beam.PTransform):
    """URL dedup → exact-text dedup → MinHash LSH near dedup, each optional."""

    def __init__(self, config: DedupConfig | None = None, label: str | None = None) -> None:
        super().__init__(label)
        self.config = config or DedupConfig()

    def expand(self, docs):
        cfg = self.config
        if cfg.by_url:
            docs = docs | "ByUrl" >> KeepOnePerKey(url_key, url_rank, "url_duplicate")
        if cfg.by_text:
            docs = docs | "ByText" >> KeepOnePerKey(text_key, text_rank, "exact_duplicate")
        if cfg.near:
            docs = docs | "NearDuplicates" >> NearDedup(cfg)
        return docs | "CountUnique" >> beam.ParDo(_CountFn("dedup", "unique"))
