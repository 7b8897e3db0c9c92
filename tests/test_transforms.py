"""Beam stages on hand-written elements: shard assignment and writing, crawl reading."""

import os

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to
from conftest import jpeg_bytes
from test_warc import make_warc

from pipeline.beam.blobstore import put_blob
from pipeline.beam.read import ReadCrawl
from pipeline.beam.shards import AssignShards, WriteShardsFn
from pipeline.shards import format as sf
from pipeline.shards import manifest, reader


def local_pipeline():
    return beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"]))


@pytest.mark.parametrize("keys_per_bucket", [3, 10, 1000])
def test_assign_shards_is_fixed_size_in_global_key_order_whatever_the_buckets(keys_per_bucket):
    keys = [sf.make_key("doc", i) for i in range(23)]
    ordered = sorted(keys)
    expected = [(i, ordered[5 * i:5 * i + 5]) for i in range(5)]  # shard i: ranks 5i..5i+4
    with local_pipeline() as p:
        shards = (
            p | beam.Create([(k, {"n": i}) for i, k in enumerate(keys)])
            | AssignShards(samples_per_shard=5, keys_per_bucket=keys_per_bucket)
            | beam.Map(lambda kv: (kv[0], sorted(k for k, _ in kv[1])))
        )
        assert_that(shards, equal_to(expected))


def test_shard_buckets_preserve_key_order():
    from pipeline.beam.shards import bucket_of

    keys = sorted(sf.make_key("k", i) for i in range(2000))
    for buckets in (1, 7, 64, 1000):
        got = [bucket_of(k, buckets) for k in keys]
        assert got == sorted(got) and 0 <= got[0] and got[-1] < buckets


def test_read_crawl_splits_pages_and_images(tmp_path):
    path = tmp_path / "a.warc.gz"
    path.write_bytes(make_warc())
    with local_pipeline() as p:
        pages, images = p | ReadCrawl([str(tmp_path / "*.warc.gz")], str(tmp_path / "crawl"))
        assert_that(pages | beam.Map(lambda r: r.url), equal_to(["https://ex.com/a"]), label="pages")
        assert_that(images | beam.Map(lambda kv: kv[0]), equal_to(["https://ex.com/i.jpg"]), label="images")
    name = sf.sha256_hex(jpeg_bytes())  # named by content: two captures never share a name
    assert (tmp_path / "crawl" / name[:2] / name).read_bytes() == jpeg_bytes()


def test_write_shards_reads_images_from_store_and_resumes(tmp_path):
    store = str(tmp_path / "images")
    data = jpeg_bytes(64, 48)
    sha = sf.sha256_hex(data)
    put_blob(store, f"{sha}.jpg", data)
    meta = sf.ImageRef("https://ex.com/i.jpg", sha, 64, 48, "alt")
    record = {"doc_id": "d", "url": "https://ex.com/", "seq_index": 0, "num_tokens": 9, "tokenizer": "t",
              "segments": [sf.ImageSlot(0), sf.TextSegment("caption")], "images": [meta]}
    out = str(tmp_path / "out")
    fn = WriteShardsFn(out, store, "corpus", resume=True, kind=sf.KIND_INTERLEAVED)
    fn.setup()
    [(entry, hist)] = list(fn.process((0, [("k1", record)])))
    assert entry["samples"] == 1 and manifest.is_complete(out, "corpus-00000")
    assert hist == {"tokens_per_sequence": {9: 1}, "images_per_sequence": {1: 1}, "image_width": {64: 1},
                    "image_height": {48: 1}}
    tar = os.path.join(out, "corpus-00000.tar")
    [sample] = list(reader.iter_samples([tar]))
    assert sample.images[0].data == data and sample.text("<image>") == "<image>caption"
    before = os.stat(tar).st_mtime_ns
    # resume: the finished shard is not written again; its entry and histograms come from its files
    assert list(fn.process((0, [("k1", record)]))) == [(entry, hist)] and os.stat(tar).st_mtime_ns == before


def test_extract_honours_x_robots_tag_of_the_response():
    from pipeline.beam.extract import ExtractFn
    from pipeline.read.warc import PageRecord

    html = b"<html><body><article>" + b"<p>A long enough paragraph about herons and rivers.</p>" * 8 + b"</article></body></html>"
    fn = ExtractFn()
    fn.setup()
    assert len(list(fn.process(PageRecord("https://ex.com/a", html)))) == 1
    assert list(fn.process(PageRecord("https://ex.com/a", html, robots=("noai",)))) == []
    [doc] = list(fn.process(PageRecord("https://ex.com/a", html, robots=("noimageai",))))
    assert "noimageai" in doc.opt_out
    assert len(list(fn.process(PageRecord("https://ex.com/a", html, robots=("otherbot: noai",))))) == 1
