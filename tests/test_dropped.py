"""The dropped-items sample: pure records -> valid samples; the Beam transform keeps at most k
per reason, the smallest ranks, deterministically, whatever the bundle order."""

import hashlib

import apache_beam as beam
from conftest import jpeg_bytes

from pipeline.beam.dropped import SampleDropped
from pipeline.document import Document, ImageNode, TextBlock
from pipeline.dropped import DroppedItem, ImageNote, from_document, rank, to_sample
from pipeline.images.outcomes import ImageOutcome
from pipeline.shards import format as sf
from pipeline.shards import reader
from pipeline.view.model import build


def doc(i: int, n_images: int = 2) -> Document:
    nodes = [TextBlock(f"intro {i}")]
    for j in range(n_images):
        nodes += [ImageNode(f"https://img.example/{i}/{j}.jpg", alt=f"alt {j}"), TextBlock(f"after {j}")]
    return Document(url=f"https://site.example/{i}", nodes=nodes, title=f"title {i}")


def test_a_dropped_document_becomes_a_valid_sample_with_its_images_in_place():
    item = from_document("documents", "dropped_no_images", doc(1), {0: "too_small", 1: "http_404"})
    sample = to_sample(item, lambda blob: None)
    members = dict((name.split(".", 1)[1], data) for name, data in sf.encode(sample))
    assert sf.validate(sample.key, members) == []
    view = build(sample.key, members)
    kinds = [(b.kind, b.text) for b in view.blocks]
    assert kinds == [("text", "intro 1"), ("missing", "too_small"), ("text", "after 0"), ("missing", "http_404"),
                     ("text", "after 1")]
    assert view.dropped["reason"] == "dropped_no_images" and view.title == "title 1"
    assert view.num_tokens is None  # never a sequence


def test_images_with_kept_bytes_are_stored_at_most_five():
    data = jpeg_bytes(40, 30)
    notes = tuple(ImageNote(f"https://img.example/{j}.jpg", blob="x.jpg", width=40, height=30) for j in range(7))
    sample = to_sample(DroppedItem("image_refs", "repeated_image", "p", nodes=notes), lambda blob: data)
    assert len(sample.images) == sf.MAX_IMAGES and len(sample.extra["dropped"]["missing_images"]) == 2


def test_text_is_capped():
    huge = Document(url="u", nodes=[TextBlock("x" * 50_000), TextBlock("y" * 50_000)])
    item = from_document("filter", "too_long", huge)
    assert sum(len(n) for n in item.nodes) == 20_000


def run_sample(out, items, k, order):
    with beam.Pipeline(runner="FnApiRunner") as p:
        (p | beam.Create([items[i] for i in order], reshuffle=True)
         | SampleDropped(str(out), str(out / "blobs"), k))


def test_at_most_k_per_reason_the_smallest_ranks_deterministically(tmp_path, k=3):
    items = [DroppedItem("filter", reason, f"https://site.example/{reason}/{i}", f"https://site.example/{reason}/{i}",
                         nodes=(f"text {i}",)) for reason in ("too_short", "language", "flagged") for i in range(20)]
    items.append(DroppedItem("images", "http_404", "https://img.example/x", "https://img.example/x",
                             nodes=(ImageNote("https://img.example/x", status="http_404"),)))
    run_sample(tmp_path / "a", items, k, range(len(items)))
    run_sample(tmp_path / "b", items, k, reversed(range(len(items))))
    shard = "dropped/dropped-00000.tar"
    got = list(reader.iter_samples([str(tmp_path / "a" / shard)]))
    expected = []
    for reason in sorted({(it.stage, it.reason) for it in items}):
        ranked = sorted((rank(it), it) for it in items if (it.stage, it.reason) == reason)
        expected += [to_sample(it, lambda b: None).key for _, it in ranked[:k]]
    assert [s.key for s in got] == expected  # by (stage, reason, rank)
    digest = [hashlib.sha256((tmp_path / d / shard).read_bytes()).hexdigest() for d in "ab"]
    assert digest[0] == digest[1]


def test_repeated_image_keeps_its_bytes(tmp_path):
    from pipeline.beam.blobstore import get_blob, put_blob
    from pipeline.beam.images import _repeated_item

    data = jpeg_bytes(64, 48)
    sha = sf.sha256_hex(data)
    put_blob(str(tmp_path / "blobs"), f"{sha}.jpg", data)
    outcome = ImageOutcome("ok", "crawl", sha, 64, 48, "ab" * 8)
    refs = [(f"https://a.example/{i}.jpg", outcome, frozenset({f"doc{i}"})) for i in range(4)]
    assert list(_repeated_item(("ab" * 8, refs), max_docs=4)) == []
    item, = _repeated_item(("ab" * 8, refs), max_docs=3)
    sample = to_sample(item, lambda blob: get_blob(str(tmp_path / "blobs"), blob))  # as WriteDroppedFn loads
    assert sample.images[0].data == data and "4 documents" in sample.extra["dropped"]["detail"]
