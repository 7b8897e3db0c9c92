"""Beam layer of deduplication: URL, exact text, MinHash near-duplicates (`Deduplicate`).

Thin wrappers over the pure :mod:`pipeline.dedup`. Retries: Beam discards the outputs of a
failed bundle and runs it again, so a stage is retry-safe when its outputs depend only on
its inputs. Every DoFn here is a pure function of its element, and every "keep one of
these" choice is a minimum under a total order on document content, never "the first one
seen", so bundle order, worker count and retries cannot change what is kept.

Counters: ``dedup/url_duplicate``, ``dedup/exact_duplicate``, ``dedup/near_duplicate`` for
each document dropped and ``dedup/unique`` for each one that leaves `Deduplicate`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.beam.joins import join_streamed
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.keys import near_id, text_key, text_rank, url_key, url_rank
from pipeline.dedup.minhash import band_keys, is_near_duplicate, lsh_params, signature_array, star_pairs


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


class _CountFn(beam.DoFn):
    def __init__(self, namespace: str, name: str) -> None:
        self.namespace, self.name = namespace, name

    def setup(self) -> None:
        self._counter = Metrics.counter(self.namespace, self.name)

    def process(self, element) -> Iterator[Any]:
        self._counter.inc()
        yield element


class BandKeysFn(beam.DoFn):
    """(id, doc) -> ``(band key, id)`` per LSH band (main output) and ``(id, signature)``
    once (``sigs``): the bands shuffle ids only, the 512-byte signature travels once."""

    SIGS = "sigs"

    def __init__(self, config: DedupConfig) -> None:
        self.config = config

    def setup(self) -> None:
        self.bands, self.rows = lsh_params(self.config.threshold, self.config.num_perm)

    def process(self, element) -> Iterator[Any]:
        doc_key, doc = element
        cfg = self.config
        sig = signature_array(
            doc.text, num_perm=cfg.num_perm, shingle_words=cfg.shingle_words, seed=cfg.seed
        )
        sig = sig.astype("<u4")  # bytes in a fixed byte order: compact and machine-independent
        yield beam.pvalue.TaggedOutput(self.SIGS, (doc_key, sig.tobytes()))
        for key in band_keys(sig, self.bands, self.rows):
            yield key, doc_key


class _DropMarkedFn(beam.DoFn):
    """(id, {"docs", "sig", "reps"}) -> the doc, unless a candidate representative's
    signature is similar enough to its own (at most one candidate per band)."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def setup(self) -> None:
        self._dropped = Metrics.counter("dedup", "near_duplicate")

    def process(self, element) -> Iterator[Any]:
        _, grouped = element
        sigs = list(grouped["sig"])
        marked = bool(sigs) and is_near_duplicate(sigs[0], grouped["reps"], self.threshold)
        for doc in grouped["docs"]:
            if marked:
                self._dropped.inc()
            else:
                yield doc


class NearDedup(beam.PTransform):
    """Drop near-duplicates found by MinHash LSH (the star rule of
    :func:`pipeline.dedup.minhash.mark_bucket`), moving ids rather than signatures:

    bands ``(band key, id)`` -> per bucket ``(representative, member)`` pairs (streamed,
    deduplicated across bands) -> each representative's signature to its members -> each
    member against its own signature. A boilerplate bucket holding a million pages is a
    million ids streamed through one key, not a million signatures in one list.
    """

    def __init__(self, config: DedupConfig, label: str | None = None) -> None:
        super().__init__(label)
        self.config = config

    def expand(self, docs):
        keyed = docs | "KeyById" >> beam.Map(lambda d: (near_id(d), d))
        banded = keyed | "BandKeys" >> beam.ParDo(BandKeysFn(self.config)).with_outputs(BandKeysFn.SIGS, main="bands")
        sigs = banded[BandKeysFn.SIGS]
        pairs = (
            banded.bands
            | "GroupBuckets" >> beam.GroupByKey()
            | "StarPairs" >> beam.FlatMap(star_pairs)
            | "OncePerPair" >> beam.Distinct()
        )
        rep_sigs = join_streamed(sigs, pairs, "RepSig") | "ToMembers" >> beam.MapTuple(
            lambda rep, sig, member: (member, sig))
        return (
            {"docs": keyed, "sig": sigs, "reps": rep_sigs}
            | "JoinCandidates" >> beam.CoGroupByKey()
            | "DropMarked" >> beam.ParDo(_DropMarkedFn(self.config.threshold))
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
