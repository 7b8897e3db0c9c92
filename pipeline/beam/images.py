"""The corpus job's image stage, as Beam transforms over the images module.

Documents keyed by id -> every image reference grouped by URL (with the crawl's own
copy, if any) -> each unique URL fetched once, in batches so the fetcher's threads
work concurrently -> per-reference results -> images whose perceptual hash appears in
more than ``max_repeat_docs`` documents dropped (logos, banners) -> rejoined to their
documents in reading order. Only blob names and metadata travel through shuffles;
the bytes live in the blob store. Counters: ``images`` (one per unique URL, by status
and source) and ``image_refs`` (one per reference in a kept document, by fate).
"""

from __future__ import annotations

import apache_beam as beam

from pipeline.beam.blobstore import get_blob, put_blob
from pipeline.beam.counters import count
from pipeline.beam.progress import ProgressSink
from pipeline.dropped import from_document, from_image, from_repeated
from pipeline.images.outcomes import ImageOutcome, drop_repeated, image_refs, outcome_of
from pipeline.shards import format as sf

DROPPED = "dropped"  # issue 17: tag of the dropped-items outputs


class FetchImagesFn(beam.DoFn):
    """A batch of (url, {"refs", "crawl"}) -> (url, refs, ImageOutcome); bytes to the store."""

    def __init__(self, config, crawl_root: str, image_root: str, progress_root: str | None = None):
        self.config, self.crawl_root, self.image_root = config, crawl_root, image_root
        self.progress_root = progress_root

    def setup(self):
        from pipeline.images import ImageFetcher

        self.fetcher = ImageFetcher(self.config)
        self.progress = ProgressSink(self.progress_root)

    def teardown(self):
        self.fetcher.close()

    def process(self, batch):
        from pipeline.images import ImageRequest

        requests = []
        for url, groups in batch:
            page = min(ref[2] for ref in groups["refs"])
            crawl = sorted(groups["crawl"])  # (blob name, X-Robots-Tag values); any copy will do
            if crawl:  # the crawl's own copy: the fetcher uses it, no network request at all
                name, robots = crawl[0]
                requests.append(ImageRequest(url=url, referer=page, crawl_robots=robots,
                                             crawl_data=get_blob(self.crawl_root, name)))
            else:
                requests.append(ImageRequest(url=url, referer=page))
        for (url, groups), result in zip(batch, self.fetcher.fetch_many(requests)):
            yield url, sorted(groups["refs"]), self._outcome(result)

    def _outcome(self, r) -> ImageOutcome:
        count("images", r.status)
        count("images", f"source_{r.source or 'none'}")
        if r.status == "ok":
            put_blob(self.image_root, f"{r.sha256}.{r.ext}", r.data)
            self.progress.add("images_fetched")
        return outcome_of(r)

    def finish_bundle(self):
        self.progress.flush()


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


class FetchUnique(beam.PTransform):
    """((url, ref) references, crawl images (url, (blob, robots))) -> (url, sorted refs, ImageOutcome).

    Each referenced URL is fetched once (the crawl's copy first); ``ref[2]`` of a
    reference is its page URL, sent as the referer. Shared by the corpus and pairs jobs.
    """

    def __init__(self, config, crawl_root, image_root, batch_size: int = 64, progress_root=None):
        super().__init__()
        self.config, self.crawl_root, self.image_root = config, crawl_root, image_root
        self.batch_size, self.progress_root = batch_size, progress_root

    def expand(self, pcolls):
        refs, crawl = pcolls
        return (
            {"refs": refs, "crawl": crawl}
            | "GroupByImageUrl" >> beam.CoGroupByKey()
            | "OnlyReferenced" >> beam.Filter(lambda kv: bool(kv[1]["refs"]))
            | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self.batch_size)
            | "Fetch" >> beam.ParDo(
                FetchImagesFn(self.config, self.crawl_root, self.image_root, self.progress_root)
            )
        )


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
        refs = docs | "ImageRefs" >> beam.FlatMap(image_refs)
        fetched = (refs, crawl) | "FetchUnique" >> FetchUnique(
            self.config, self.crawl_root, self.image_root, self.batch_size, self.progress_root
        )
        per_ref = fetched | "PerReference" >> beam.FlatMap(
            lambda e: [(e[2], doc_id, i) for doc_id, i, _ in e[1]]
        )
        by_phash = (
            per_ref
            | "OnlyOk" >> beam.Filter(lambda t: t[0].status == "ok")
            | "ByPhash" >> beam.Map(lambda t: (t[0].phash or t[0].sha256, (t[1], t[2], t[0])))
            | "GroupByPhash" >> beam.GroupByKey()
        )
        ok = by_phash | "DropRepeated" >> beam.FlatMap(drop_repeated, max_docs=self.max_repeat_docs)
        failed = (
            per_ref
            | "OnlyFailed" >> beam.Filter(lambda t: t[0].status != "ok")
            | "FailedByDoc" >> beam.Map(lambda t: (t[1], (t[2], t[0])))
        )
        images = (ok, failed) | "AllFates" >> beam.Flatten()
        assembled = (
            {"doc": docs, "images": images}
            | "GroupByDoc" >> beam.CoGroupByKey()
            | "Assemble" >> beam.ParDo(AssembleFn(self.keep_without, self.progress_root, self.keep_dropped))
            .with_outputs(DROPPED, main="docs")
        )
        if self.keep_dropped:  # issue 17: the dropped-items sample (pipeline/beam/dropped.py)
            refused = fetched | "DroppedImages" >> beam.FlatMap(
                lambda e: [from_image(e[0], e[1], e[2])] if e[2].status != "ok" else [])
            repeated = by_phash | "RepeatedImages" >> beam.FlatMap(_repeated_item, max_docs=self.max_repeat_docs)
            self.dropped = (refused, repeated, assembled[DROPPED]) | "DroppedOfImages" >> beam.Flatten()
        return assembled.docs


def _repeated_item(element, max_docs: int):
    """(phash, [(doc_id, i, outcome)]) -> one DroppedItem when the image is in too many documents."""
    phash, refs = element
    docs, first = set(), None
    for doc_id, _, outcome in refs:
        docs.add(doc_id)
        if first is None or outcome.sha256 < first.sha256:
            first = outcome
    if len(docs) > max_docs:
        yield from_repeated(phash, first, len(docs))
