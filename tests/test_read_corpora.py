"""OBELICS and MMC4 in: files in the corpora's real schemas -> Documents -> the corpus job -> shards."""

import json

import pytest
from corpora_support import mmc4_docs, obelics_rows, write_mmc4, write_obelics
from pairs_support import PhotoServer

from pipeline.document import ImageNode, TextBlock
from pipeline.jobs import corpus
from pipeline.read import corpora, mmc4, obelics
from pipeline.shards import reader


def url(name):
    return f"http://img.example/{name}.jpg"


def kinds(doc):
    return ["img" if isinstance(n, ImageNode) else "txt" for n in doc.nodes]


def test_obelics_row_keeps_reading_order_and_alt_text():
    doc, reason = obelics.to_document(obelics_rows(url)[0])
    assert reason == "ok" and doc.url == "http://news.example/harbour"
    assert kinds(doc) == ["txt", "img", "txt", "img", "txt"]
    assert doc.nodes[1].url == url("astronaut") and doc.nodes[1].alt == "a photo of astronaut"
    assert obelics.to_document({"texts": ["a"], "images": [None, None]})[1] == "obelics_malformed"
    assert obelics.to_document({"texts": ["a"], "images": [None], "general_metadata": "{}"})[1] == "obelics_no_url"


def test_mmc4_images_stand_before_their_matched_sentence():
    doc, reason, dropped = mmc4.to_document(mmc4_docs(url)[0])
    assert reason == "ok" and dropped == {}
    assert kinds(doc) == ["txt", "img", "txt", "img", "txt"]
    assert [n.url for n in doc.images] == [url("rocket"), url("coffee")]
    assert isinstance(doc.nodes[2], TextBlock) and doc.nodes[2].text.startswith("Fishermen")
    doc, _, dropped = mmc4.to_document(mmc4_docs(url)[0], min_similarity=0.2)
    assert dropped == {"mmc4_image_below_similarity": 1} and [n.url for n in doc.images] == [url("rocket")]
    bad = {**mmc4_docs(url)[0], "image_info": [{"raw_url": url("x"), "matched_text_index": 99}, {"url": "y"}]}
    assert mmc4.to_document(bad)[2] == {"mmc4_image_without_sentence": 1, "mmc4_image_without_url": 1}


def test_an_oversized_mmc4_line_is_skipped_not_held(tmp_path, monkeypatch):
    monkeypatch.setattr(mmc4, "MAX_LINE_BYTES", 1000)
    docs = mmc4_docs(url)
    path = tmp_path / "docs.jsonl"
    path.write_bytes(b'{"url": "' + b"x" * 5000 + b'"}\n' + "".join(json.dumps(d) + "\n" for d in docs).encode())
    with open(path, "rb") as f:
        lines = list(mmc4.open_lines(f))
    assert lines[0] == b"" and [json.loads(line)["url"] for line in lines[1:]] == [d["url"] for d in docs]


@pytest.mark.parametrize("compression", ["", "gz", "zip"])
def test_recognised_by_content_whatever_the_name(tmp_path, compression):
    path = tmp_path / "docs.bin"
    docs = write_mmc4(path, url, compression)
    with open(path, "rb") as f:
        assert corpora.sniff(f) == corpora.MMC4
        assert [json.loads(line)["url"] for line in mmc4.open_lines(f)] == [d["url"] for d in docs]
    write_obelics(tmp_path / "o.data", url)
    with open(tmp_path / "o.data", "rb") as f:
        assert corpora.sniff(f) == corpora.OBELICS
        assert obelics.row_groups(f) == 2 and len(list(obelics.iter_rows(f, 1, 2))) == 1
    (tmp_path / "other.jsonl").write_text('{"url": "x", "caption": "y"}\n')
    (tmp_path / "noise").write_bytes(b"\x00" * 100)
    for name in ("other.jsonl", "noise"):
        with open(tmp_path / name, "rb") as f:
            assert corpora.sniff(f) is None


def test_corpus_job_takes_obelics_and_mmc4(tmp_path):
    """Both corpora through the whole job (filters, dedup, the safe image stage, sequences)."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    with PhotoServer() as server:
        write_obelics(inputs / "obelics-000.parquet", server.url)
        write_obelics(inputs / "obelics-001.parquet", server.url)  # the same pages again: dedup drops them
        write_mmc4(inputs / "docs_shard_0_v2.jsonl.zip", server.url, "zip")
        (inputs / "notes.txt").write_text("not a corpus")
        stats = corpus.run(["--input", str(inputs), "--output", str(tmp_path / "out"), "--runner", "FnApiRunner",
                            "--image.allow_private_networks", "true", "--mmc4_min_similarity", "0.2",
])
        paths = sorted(server.paths)
    read = stats["counters"]["read"]
    assert read["obelics_documents"] == 4 and read["mmc4_documents"] == 2
    assert stats["counters"]["dedup"]["url_duplicate"] == 2
    assert read["mmc4_image_below_similarity"] == 1 and read["unknown_file_type"] == 1
    samples = list(reader.iter_samples([str(tmp_path / "out" / s) for s in stats["shards"]]))
    urls = {s.url for s in samples}
    assert urls == {"http://news.example/harbour", "http://blog.example/bread", "http://news.example.org/harbour",
                    "http://blog.example.org/bread"}
    by_url = {s.url: s for s in samples}
    mmc4_sample = by_url["http://news.example.org/harbour"]
    assert [im.url for im in mmc4_sample.images] == [server.url("rocket")]
    assert mmc4_sample.text("<image>").index("<image>") < mmc4_sample.text("<image>").index("Fishermen")
    assert [im.alt for im in by_url["http://news.example/harbour"].images] == ["a photo of astronaut",
                                                                              "a photo of coffee"]
    from pipeline.cli import main as flamingo

    assert flamingo(["inspect", str(tmp_path / "out")]) == 0
    # fetched once per URL (chelsea is in both corpora), robots.txt asked first, coffee's low match never fetched
    assert paths.count("/img/chelsea.jpg") == 1 and "/robots.txt" in paths


def test_a_truncated_corpus_file_keeps_what_it_gave_and_is_counted(tmp_path):
    """ReadRecordsFn on a cut-off MMC4 gzip: the documents before the cut, then one counter."""
    import gzip

    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that

    from pipeline.beam.read import ReadRecordsFn

    data = gzip.compress("".join(json.dumps(d) + "\n" for d in mmc4_docs(url) * 50).encode(), mtime=0)
    path = tmp_path / "docs.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])

    def some_but_not_all(counts):
        assert 0 < counts[0] < 100, counts

    p = TestPipeline(runner="FnApiRunner")
    read = (p | beam.Create([(str(path), 0, len(data) // 2)])
            | beam.ParDo(ReadRecordsFn(str(tmp_path / "crawl"), documents=True)).with_outputs(
                "images", "documents", main="pages"))
    assert_that(read.documents | beam.combiners.Count.Globally(), some_but_not_all)
    result = p.run()
    result.wait_until_finish()
    counters = {c.key.metric.name: c.committed for c in result.metrics().query(MetricsFilter())["counters"]}
    assert counters["corrupt_mmc4_file"] == 1
