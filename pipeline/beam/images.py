"""The corpus job's image stage, as Beam transforms over the images module.

    references ─► per URL: referer, documents (capped) ─┐   (a combine: hot URLs reduce early)
    crawl copies ─► per URL: one copy ───────────────────┴► FetchUnique: each URL once
          crawl copy: batches on any worker │ network: keyed by host, one place per host
                                            ▼
    (url, outcome) ─► by perceptual hash: repeated in > max_repeat_docs documents? (streamed)
                   ─► joined back to every reference (streamed) ─► by document: Assemble

Only blob names and metadata travel through shuffles; the bytes live in the blob store.
No step holds a list that grows with the corpus: a logo on a million pages is one combined
record per URL (its documents counted only up to ``max_repeat_docs + 1``), and the two
per-key joins stream over their grouped values. Network fetches are grouped by host, so
the per-host concurrency and rate of :class:`~pipeline.images.config.ImageConfig` hold for
the whole job, not per worker, and each host's robots.txt is read once.

Counters: ``images`` (one per unique URL, by status and source) and ``image_refs`` (one per
reference in a kept document, by fate).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from pipeline.beam.blobstore import BlobReader, BlobWriter
from pipeline.beam.combine import CombinePerKeyBounded, Smallest
from pipeline.beam.counters import count
from pipeline.beam.joins import join_streamed
from pipeline.beam.progress import ProgressSink
from pipeline.dropped import from_document, from_image, from_repeated
from pipeline.images.outcomes import ImageOutcome, capped_union, image_refs, mark_repeated, outcome_of
from pipeline.shards import format as sf

DROPPED = "dropped"  # issue 17: tag of the dropped-items outputs


def host_key(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


# ------------------------------------------------------------------------------- fetching


class _FetchFn(beam.DoFn):
    """Shared by both fetch paths: one fetcher per DoFn instance, outcomes counted, bytes to
    the store (written concurrently, all flushed before the bundle's outputs commit)."""

    def __init__(self, config, crawl_root: str, image_root: str, progress_root: str | None = None):
        self.config, self.crawl_root, self.image_root = config, crawl_root, image_root
        self.progress_root = progress_root

    def setup(self):
        from pipeline.images import ImageFetcher

        self.fetcher = ImageFetcher(self.config)
        self.progress = ProgressSink(self.progress_root)
        self.writer = BlobWriter(self.image_root)
        self.reader = BlobReader(self.crawl_root)

    def teardown(self):
        self.fetcher.close()
        self.writer.close()
        self.reader.close()

    def _fetch(self, requests):
        """[(url, referer, payload, crawl copy or None)] -> [(url, ImageOutcome, payload)]."""
        from pipeline.images import ImageRequest

        load = self.reader.prefetch([c[0] for _, _, _, c in requests if c is not None])
        batch = []
        for url, referer, _, crawl in requests:
            if crawl is None:
                batch.append(ImageRequest(url=url, referer=referer))
            else:  # the crawl's own copy: the fetcher uses it, no network request at all
                batch.append(ImageRequest(url=url, referer=referer, crawl_robots=crawl[1],
                                          crawl_data=load(crawl[0])))
        results = self.fetcher.fetch_many(batch)
        return [(url, self._outcome(r), payload) for (url, _, payload, _), r in zip(requests, results)]

    def _outcome(self, r) -> ImageOutcome:
        count("images", r.status)
        count("images", f"source_{r.source or 'none'}")
        if r.status == "ok":
            self.writer.put(f"{r.sha256}.{r.ext}", r.data)
            self.progress.add("images_fetched")
        return outcome_of(r)

    def finish_bundle(self):
        self.writer.flush()
        self.progress.flush()


class FetchBatchFn(_FetchFn):
    """A batch of requests with crawl copies -> outcomes (the fetcher's threads decode them)."""

    def process(self, batch):
        yield from self._fetch(batch)


class FetchByHostFn(_FetchFn):
    """(host, requests) -> outcomes, fetched in one place per host.

    A host's requests stream through in batches; batches mix hosts across the keys of a
    bundle, so the fetcher's threads stay busy on a crawl of many small hosts, while each
    host's own concurrency and rate are the fetcher's per-host limits, job-wide.
    """

    def __init__(self, *args, batch_size: int = 64, **kwargs):
        super().__init__(*args, **kwargs)
        self.batch_size = batch_size

    def start_bundle(self):
        self.pending = []

    def process(self, element):
        _, requests = element
        for request in requests:
            self.pending.append(request)
            if len(self.pending) >= self.batch_size:
                yield from self._drain()

    def _drain(self):
        batch, self.pending = self.pending, []
        return self._fetch(batch) if batch else []

    def finish_bundle(self):
        for out in self._drain():
            yield GlobalWindows.windowed_value_at_end_of_window(out)
        super().finish_bundle()


def _with_copy(element):
    """(url, {"request": [one], "crawl": [at most one]}) -> (url, referer, payload, copy or None);
    nothing for a crawl image no kept document uses."""
    url, grouped = element
    for referer, payload in grouped["request"]:
        yield url, referer, payload, min(grouped["crawl"], default=None)


class FetchUnique(beam.PTransform):
    """(requests ``(url, (referer, payload))``, one per URL; crawl images ``(url, (blob,
    robots))``) -> ``(url, ImageOutcome, payload)``, each URL fetched once (the crawl's copy
    first, else the network, keyed by host). Shared by the corpus and pairs jobs."""

    def __init__(self, config, crawl_root, image_root, batch_size: int = 64, progress_root=None):
        super().__init__()
        self.config, self.crawl_root, self.image_root = config, crawl_root, image_root
        self.batch_size, self.progress_root = batch_size, progress_root

    def expand(self, pcolls):
        requests, crawl = pcolls
        args = (self.config, self.crawl_root, self.image_root, self.progress_root)
        one_copy = crawl | "OneCrawlCopy" >> CombinePerKeyBounded(Smallest())
        joined = (
            {"request": requests, "crawl": one_copy}
            | "JoinCrawlCopy" >> beam.CoGroupByKey()
            | "Requests" >> beam.FlatMap(_with_copy)
        )
        from_crawl = (
            joined
            | "WithCopy" >> beam.Filter(lambda r: r[3] is not None)
            | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self.batch_size)
            | "FetchCrawlCopies" >> beam.ParDo(FetchBatchFn(*args))
        )
        from_network = (
            joined
            | "WithoutCopy" >> beam.Filter(lambda r: r[3] is None)
            | "ByHost" >> beam.Map(lambda r: (host_key(r[0]), r))
            | "GroupByHost" >> beam.GroupByKey()
            | "FetchByHost" >> beam.ParDo(FetchByHostFn(*args, batch_size=self.batch_size))
        )
        return (from_crawl, from_network) | "Outcomes" >> beam.Flatten()


# ------------------------------------------------------------------ references and repeats


class _UrlUse(beam.CombineFn):
    """(page url, doc id) of every reference to one URL -> (smallest page url, documents
    using it, at most ``cap``): constant size however many pages use the URL."""

    def __init__(self, cap: int):
        self.cap = cap

    def create_accumulator(self):
        return None, frozenset()

    def add_input(self, acc, ref):
        page, doc = ref
        best, docs = acc
        if len(docs) < self.cap:
            docs = docs | {doc}
        return (page if best is None or page < best else best), docs

    def merge_accumulators(self, accs):
        best, docs = None, set()
        for page, part in accs:  # one pass: a hot URL's partials may be many, streamed
            if page is not None and (best is None or page < best):
                best = page
            for d in part:  # the union, cut at cap: its size is exactly min(cap, |union|)
                if len(docs) >= self.cap:
                    break
                docs.add(d)
        return best, frozenset(docs)

    def extract_output(self, acc):
        return acc


class AssembleFn(beam.DoFn):
    """(doc_id, {"doc", "images"}) -> (doc_id, url, nodes) with the surviving images in place."""

    def __init__(self, keep_docs_without_images: bool = False, progress_root: str | None = None,
                 keep_dropped: bool = False):
        self.keep_without, self.progress_root = keep_docs_without_images, progress_root
        self.keep_dropped = keep_dropped  # issue 17: dropped documents to the DROPPED output

    def setup(self):
        self.progress = ProgressSink(self.progress_root)

    def process(self, element):
        from pipeline.document import ImageNode

        doc_id, groups = element
        if not groups["doc"]:
            return
        doc = groups["doc"][0]
        fates = dict(groups["images"])
        nodes, image_pos, kept = [], 0, 0
        for node in doc.nodes:
            if not isinstance(node, ImageNode):
                nodes.append(node.text)
                continue
            outcome = fates.get(image_pos)
            image_pos += 1
            if outcome is None:
                count("image_refs", "page_noimageai" if "noimageai" in doc.opt_out else "missing")
                continue
            count("image_refs", outcome.status)
            if outcome.status == "ok":
                kept += 1
                nodes.append(sf.ImageRef(node.url, outcome.sha256, outcome.width, outcome.height,
                                       node.alt or node.caption, outcome.ext))
        if not kept and not self.keep_without:
            count("documents", "dropped_no_images")
            if self.keep_dropped:  # issue 17: the dropped-items sample (pipeline/beam/dropped.py)
                statuses = {i: o.status for i, o in fates.items()}
                yield beam.pvalue.TaggedOutput(DROPPED, from_document("documents", "dropped_no_images", doc, statuses))
            return
        count("documents", "kept")
        self.progress.add("documents_kept")
        yield doc_id, doc.url, nodes

    def finish_bundle(self):
        self.progress.flush()


class _WithImagesFn(beam.DoFn):
    """(doc_id, doc) with at least one image node, else counted (and sampled) as Assemble would."""

    def __init__(self, keep_dropped: bool = False):
        self.keep_dropped = keep_dropped

    def process(self, element):
        if element[1].images:
            yield element
            return
        count("documents", "dropped_no_images")
        if self.keep_dropped:
            yield beam.pvalue.TaggedOutput(DROPPED, from_document("documents", "dropped_no_images", element[1]))


class AttachImages(beam.PTransform):
    """(docs keyed by id, crawl images (url, (blob, robots))) -> (doc_id, url, nodes).

    With ``keep_dropped``, ``self.dropped`` is set (once applied) to the DroppedItems of this
    stage: refused image URLs, repeated images and documents left without images (issue 17)."""

    def __init__(self, config, crawl_root, image_root, *, max_repeat_docs: int = 10,
                 keep_docs_without_images: bool = False, batch_size: int = 64, progress_root=None,
                 keep_dropped: bool = False):
        super().__init__()
        self.config, self.crawl_root, self.image_root = config, crawl_root, image_root
        self.max_repeat_docs, self.keep_without = max_repeat_docs, keep_docs_without_images
        self.batch_size, self.progress_root = batch_size, progress_root
        self.keep_dropped, self.dropped = keep_dropped, None

    def expand(self, pcolls):
        docs, crawl = pcolls
        dropped = []
        if not self.keep_without:  # a document without a single image cannot be kept: not shuffled
            with_images = docs | "WithImages" >> beam.ParDo(_WithImagesFn(self.keep_dropped)).with_outputs(
                DROPPED, main="docs")
            docs = with_images.docs
            dropped.append(with_images[DROPPED])
        refs = docs | "ImageRefs" >> beam.FlatMap(image_refs)  # (url, (doc_id, position, page))
        requests = (
            refs
            | "PageAndDoc" >> beam.MapTuple(lambda url, ref: (url, (ref[2], ref[0])))
            | "PerUrl" >> CombinePerKeyBounded(_UrlUse(self.max_repeat_docs + 1))
        )
        fetched = (requests, crawl) | "FetchUnique" >> FetchUnique(
            self.config, self.crawl_root, self.image_root, self.batch_size, self.progress_root
        )
        ok = fetched | "OnlyOk" >> beam.Filter(lambda t: t[1].status == "ok")
        by_phash = (
            ok
            | "ByPhash" >> beam.Map(lambda t: (t[1].phash or t[1].sha256, t))
            | "GroupByPhash" >> beam.GroupByKey()
        )
        final = by_phash | "MarkRepeated" >> beam.FlatMap(mark_repeated, max_docs=self.max_repeat_docs)
        failed = fetched | "OnlyFailed" >> beam.Filter(lambda t: t[1].status != "ok") | "FailedOutcome" >> beam.Map(
            lambda t: (t[0], t[1]))
        outcomes = (final, failed) | "AllOutcomes" >> beam.Flatten()
        fates = join_streamed(outcomes, refs, "PerReference") | "ByDoc" >> beam.MapTuple(
            lambda url, outcome, ref: (ref[0], (ref[1], outcome)))
        assembled = (
            {"doc": docs, "images": fates}
            | "GroupByDoc" >> beam.CoGroupByKey()
            | "Assemble" >> beam.ParDo(AssembleFn(self.keep_without, self.progress_root, self.keep_dropped))
            .with_outputs(DROPPED, main="docs")
        )
        if self.keep_dropped:  # the dropped-items sample (pipeline/beam/dropped.py)
            refused = failed | "DroppedImages" >> beam.MapTuple(from_image)
            repeated = by_phash | "RepeatedImages" >> beam.FlatMap(_repeated_item, max_docs=self.max_repeat_docs)
            self.dropped = (refused, repeated, assembled[DROPPED], *dropped) | "DroppedOfImages" >> beam.Flatten()
        return assembled.docs


def _repeated_item(element, max_docs: int):
    """(phash, [(url, outcome, documents)]) -> one DroppedItem when the image is in more than
    ``max_docs`` documents (two streamed passes, as ``mark_repeated``; at most max_docs + 1 ids)."""
    phash, members = element
    docs = capped_union((d for _, _, d in members), max_docs + 1)
    if len(docs) > max_docs:
        first = min((outcome for _, outcome, _ in members), key=lambda o: o.sha256 or "")
        yield from_repeated(phash, first, len(docs))
