"""The image stage as a Beam composite, on hand-written documents and crawl images."""

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to
from conftest import jpeg_bytes

from pipeline.beam.blobstore import put_blob
from pipeline.beam.images import AttachImages
from pipeline.beam.progress import ProgressDisplay, ProgressSink
from pipeline.document import Document, ImageNode, TextBlock
from pipeline.images import ImageConfig
from pipeline.shards import format as sf


def doc(url, *nodes, opt_out=frozenset()):
    return Document(url=url, nodes=list(nodes), opt_out=frozenset(opt_out))


def shape(element):
    """(doc_id, url, nodes) -> (doc_id, ['text' | image url, ...]) for comparison."""
    doc_id, _, nodes = element
    return doc_id, [n.url if isinstance(n, sf.ImageRef) else n for n in nodes]


def test_attach_images_fetches_once_drops_repeats_and_keeps_order(tmp_path):
    crawl_root, image_root = str(tmp_path / "crawl"), str(tmp_path / "images")
    photos = {f"https://ex.com/{i}.jpg": jpeg_bytes(320, 240, seed=i) for i in range(2)}
    photos["https://ex.com/logo.png"] = jpeg_bytes(300, 200, seed=5)
    photos["https://ex.com/optout.jpg"] = jpeg_bytes(320, 240, seed=7)
    crawl = []
    for url, data in photos.items():
        name = sf.sha256_hex(url.encode())
        put_blob(crawl_root, name, data)
        robots = ("noimageai",) if "optout" in url else ()  # the record's X-Robots-Tag
        crawl.append((url, (name, robots)))
    docs = [
        ("d1", doc("https://ex.com/a", TextBlock("intro"), ImageNode("https://ex.com/0.jpg", alt="zero"),
                   TextBlock("after zero"), ImageNode("http://127.0.0.1/x.jpg"), ImageNode("https://ex.com/logo.png"))),
        ("d2", doc("https://ex.com/b", ImageNode("https://ex.com/1.jpg"), TextBlock("after one"),
                   ImageNode("https://ex.com/logo.png"), ImageNode("https://ex.com/optout.jpg"))),
        ("d3", doc("https://ex.com/c", ImageNode("https://ex.com/0.jpg"), TextBlock("t"), opt_out={"noimageai"})),
        ("d4", doc("https://ex.com/d", TextBlock("no images at all"))),
    ]
    config = ImageConfig(image_size=128)
    p = beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"]))
    out = (p | "Docs" >> beam.Create(docs), p | "Crawl" >> beam.Create(crawl)) | AttachImages(
        config, crawl_root, image_root, max_repeat_docs=1
    )
    assert_that(out | beam.Map(shape), equal_to([
        ("d1", ["intro", "https://ex.com/0.jpg", "after zero"]),  # private URL refused, logo repeated
        ("d2", ["https://ex.com/1.jpg", "after one"]),  # the crawl copy that opted out is refused
    ]))
    result = p.run()
    result.wait_until_finish()
    counts = {(c.key.metric.namespace, c.key.metric.name): c.committed
              for c in result.metrics().query()["counters"]}
    # Five distinct URLs are referenced (0.jpg by d1 only: d3 opted out of image use; logo.png
    # by two documents): each got exactly one outcome, the logo once although used twice.
    outcomes = sum(v for (ns, name), v in counts.items() if ns == "images" and not name.startswith("source_"))
    assert outcomes == 5 and counts[("images", "ok")] == 3
    assert counts[("images", "source_crawl")] == 4 and counts[("images", "source_http")] == 1
    assert counts[("images", "private_address")] == 1 and counts[("images", "noai")] == 1
    assert counts[("image_refs", "repeated_image")] == 2 and counts[("image_refs", "ok")] == 2


def test_progress_sink_and_display(tmp_path):
    sink = ProgressSink(str(tmp_path), every_s=0)
    sink.add("pages_read", 5)
    sink.add("samples_written", 2)
    line = ProgressDisplay(str(tmp_path)).line()
    assert "pages 5" in line and "sequences written 2" in line
    ProgressSink(None).add("pages_read")  # disabled sink is a no-op
