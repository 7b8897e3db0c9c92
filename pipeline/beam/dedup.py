"""Beam layer of deduplication: URL, exact text, MinHash near-duplicates (`Deduplicate`).

Thin wrappers over the pure :mod:`pipeline.dedup`. Retries: Beam discards the outputs of a
failed bundle and runs it again, so a stage is retry-safe when its outputs depend only on
its inputs. Every DoFn here is a pure function of its element, and every "keep one of
these" choice is a minimum under a total order on document content, never "the first one
seen", so bundle order, worker count and retries cannot change what is kept.

What moves: each document's *facts* (its keys, ranks, content hash and MinHash signature,
~1 KB) go through the URL and exact-text stages and the LSH, never the document (~5 KB);
the documents are shuffled once, to meet their verdict. The bands shuffle ids; a bucket's
representative's signature meets each candidate once (see :class:`NearDuplicates`).

Counters: ``dedup/url_duplicate``, ``dedup/exact_duplicate``, ``dedup/near_duplicate`` for
each document dropped and ``dedup/unique`` for each one that leaves `Deduplicate`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipeline.beam.combine import CombinePerKeyBounded, Smallest
from pipeline.beam.joins import join_streamed
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.keys import content_hash, near_id, text_key, text_rank, url_key, url_rank
from pipeline.dedup.minhash import band_keys, is_near_duplicate, lsh_params, signature_array, star_pairs


class Facts(NamedTuple):
    """What the dedup stages look at, instead of the document."""

    content: str  # content_hash: tells apart documents that share an id
    url_key: str
    url_rank: tuple
    text_key: str
    text_rank: tuple
    sig: bytes | None  # MinHash signature, little-endian uint32 (None when near dedup is off)


class FactsFn(beam.DoFn):
    """(id, doc) -> (id, Facts)."""

    def __init__(self, config: DedupConfig) -> None:
        self.config = config

    def process(self, element) -> Iterator[tuple[str, Facts]]:
        doc_id, doc = element
        cfg = self.config
        sig = None
        if cfg.near:
            sig = signature_array(doc.text, num_perm=cfg.num_perm, shingle_words=cfg.shingle_words,
                                  seed=cfg.seed).astype("<u4").tobytes()  # fixed byte order
        yield doc_id, Facts(content_hash(doc), url_key(doc), url_rank(doc), text_key(doc), text_rank(doc), sig)


class _KeepBest(beam.CombineFn):
    """(count, best rank, best element) per key. A combine rather than GroupByKey so that a
    key with millions of copies (boilerplate pages) is reduced on many workers before the
    shuffle; with a bounded pre-combine table (``CombinePerKeyBounded``), since its
    accumulators hold a document's facts."""

    def __init__(self, rank: Callable[[Any], tuple]) -> None:
        self.rank = rank

    def create_accumulator(self):
        return 0, None, None

    def add_input(self, acc, element):
        return self.merge_accumulators([acc, (1, self.rank(element), element)])

    def merge_accumulators(self, accumulators):
        count, best_rank, best = 0, None, None
        for n, rank, element in accumulators:
            count += n
            if element is not None and (best is None or rank < best_rank):
                best_rank, best = rank, element
        return count, best_rank, best

    def extract_output(self, acc):
        return acc[0], acc[2]


class _EmitBest(beam.DoFn):
    def __init__(self, counter_name: str) -> None:
        self.counter_name = counter_name

    def setup(self) -> None:
        self._dropped = Metrics.counter("dedup", self.counter_name)

    def process(self, element) -> Iterator[Any]:
        _, (count, best) = element
        self._dropped.inc(count - 1)
        yield best


class KeepOnePerKey(beam.PTransform):
    """(id, Facts) grouped by ``key(facts)``: the one with the smallest ``rank(facts)`` stays."""

    def __init__(self, key: Callable[[Facts], str], rank: Callable[[Facts], tuple], counter_name: str,
                 label=None) -> None:
        super().__init__(label)
        self.key, self.rank, self.counter_name = key, rank, counter_name

    def expand(self, facts):
        key, rank = self.key, self.rank
        return (
            facts
            | "Key" >> beam.Map(lambda kv: (key(kv[1]), kv))
            | "Best" >> CombinePerKeyBounded(_KeepBest(lambda kv: rank(kv[1])))
            | "Emit" >> beam.ParDo(_EmitBest(self.counter_name))
        )


def _bands(element, bands: int, rows: int) -> Iterator[tuple[str, str]]:
    doc_id, facts = element
    for key in band_keys(np.frombuffer(facts.sig, dtype="<u4"), bands, rows):
        yield key, doc_id


class NearDuplicates(beam.PTransform):
    """(id, Facts) survivors -> (member id, a candidate representative's signature), for the
    star rule of :func:`pipeline.dedup.minhash.mark_bucket`, moving ids rather than signatures:

    bands ``(band key, id)`` -> per bucket ``(representative, member)`` pairs (streamed,
    deduplicated across bands) -> each representative's signature joined to its members
    (streamed). A boilerplate bucket holding a million pages is a million ids streamed through
    one key, not a million signatures in one list.
    """

    def __init__(self, config: DedupConfig, label: str | None = None) -> None:
        super().__init__(label)
        self.config = config

    def expand(self, facts):
        bands, rows = lsh_params(self.config.threshold, self.config.num_perm)
        pairs = (
            facts
            | "BandKeys" >> beam.FlatMap(_bands, bands=bands, rows=rows)
            | "GroupBuckets" >> beam.GroupByKey()
            | "StarPairs" >> beam.FlatMap(star_pairs)
            | "AsKey" >> beam.Map(lambda pair: (pair, 0))
            | "OncePerPair" >> CombinePerKeyBounded(Smallest())
            | "Pair" >> beam.Keys()
        )
        sigs = facts | "Signatures" >> beam.MapTuple(lambda doc_id, f: (doc_id, f.sig))
        return join_streamed(sigs, pairs, "RepSig") | "ToMembers" >> beam.MapTuple(
            lambda rep, sig, member: (member, sig))


class _VerdictFn(beam.DoFn):
    """(id, {"docs", "kept", "reps"}) -> the documents whose facts survived, unless a candidate
    representative's signature is similar enough to theirs."""

    def __init__(self, threshold: float | None) -> None:
        self.threshold = threshold

    def setup(self) -> None:
        self._near = Metrics.counter("dedup", "near_duplicate")

    def process(self, element) -> Iterator[Any]:
        _, grouped = element
        kept = grouped["kept"]  # empty: dropped (and counted) by the URL or exact-text stage
        reps = grouped.get("reps", [])
        near = bool(kept) and self.threshold is not None and bool(reps) and is_near_duplicate(
            kept[0].sig, reps, self.threshold)
        chosen = self._chosen(grouped["docs"], kept) if kept else []
        if near:
            self._near.inc(len(chosen))
        else:
            yield from chosen

    @staticmethod
    def _chosen(docs: list, kept: list[Facts]) -> list:
        """The documents whose facts survived (several only when documents share an id)."""
        if len(docs) == 1 and len(kept) == 1:
            return docs
        wanted = Counter(f.content for f in kept)
        chosen = []
        for doc in docs:
            h = content_hash(doc)
            if wanted[h] > 0:
                wanted[h] -= 1
                chosen.append(doc)
        return chosen


class _CountFn(beam.DoFn):
    def __init__(self, namespace: str, name: str) -> None:
        self.namespace, self.name = namespace, name

    def setup(self) -> None:
        self._counter = Metrics.counter(self.namespace, self.name)

    def process(self, element) -> Iterator[Any]:
        self._counter.inc()
        yield element


class Deduplicate(beam.PTransform):
    """URL dedup → exact-text dedup → MinHash LSH near dedup, each optional, on the documents'
    facts; then each document meets its verdict."""

    def __init__(self, config: DedupConfig | None = None, label: str | None = None) -> None:
        super().__init__(label)
        self.config = config or DedupConfig()

    def expand(self, docs):
        cfg = self.config
        keyed = docs | "KeyById" >> beam.Map(lambda d: (near_id(d), d))
        facts = keyed | "Facts" >> beam.ParDo(FactsFn(cfg))
        if cfg.by_url:
            facts = facts | "ByUrl" >> KeepOnePerKey(lambda f: f.url_key, lambda f: f.url_rank, "url_duplicate")
        if cfg.by_text:
            facts = facts | "ByText" >> KeepOnePerKey(lambda f: f.text_key, lambda f: f.text_rank, "exact_duplicate")
        joined = {"docs": keyed, "kept": facts}
        if cfg.near:
            joined["reps"] = facts | "NearDuplicates" >> NearDuplicates(cfg)
        return (
            joined
            | "Verdict" >> beam.CoGroupByKey()
            | "Keep" >> beam.ParDo(_VerdictFn(cfg.threshold if cfg.near else None))
            | "CountUnique" >> beam.ParDo(_CountFn("dedup", "unique"))
        )
