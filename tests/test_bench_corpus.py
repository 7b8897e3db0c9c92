"""bench/corpus.py's parts: the input builder makes distinct, self-contained pages, and the
Beam-free baseline writes exactly what the Beam job writes (else the ratio would be meaningless)."""

import gzip
import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "bench"))  # appended: bench/train.py must not shadow the train package

import corpus_input as ci

DATA = ROOT.parent / "shared" / "data" / "article-extraction"
WORDS = ["river", "valley", "station", "morning", "council", "report", "harbour", "winter", "garden", "market", "museum", "library", "bridge", "engineer", "teacher", "village", "weather", "forest", "mountain"]


def _page(n: int) -> str:
    paras = "".join(
        f"<p>{' '.join(WORDS[(n + i * 7 + j) % len(WORDS)] for j in range(40))} the and of.</p>"
        for i in range(6)
    )
    return (f"<html><head><title>Story {n}</title><style>p {{ color: red }}</style></head><body>"
            f"<article><h1>Story number {n}</h1>{paras}"
            f'<picture><source srcset="big.webp 2x"><img src="a.jpg" data-src="lazy.jpg" '
            f'srcset="x.jpg 800w" alt="a photo {n}" width="600"></picture>{paras}</article>'
            f"<script>var words = 'river valley';</script></body></html>")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    (d / "html").mkdir()
    truth = {}
    for n in range(2):
        pid = f"{n:064x}"
        (d / "html" / f"{pid}.html.gz").write_bytes(gzip.compress(_page(n).encode()))
        truth[pid] = {"url": f"https://news{n}.example.org/story/{n}"}
    (d / "ground-truth.json").write_text(json.dumps(truth))
    return d


def test_copies_are_distinct_and_images_point_into_the_crawl(data_dir, tmp_path):
    from pipeline.read import warc

    spec = ci.InputSpec(pages=6, files=2, images=3)
    paths = ci.build_input(data_dir, spec, tmp_path)
    assert len(paths) == 2
    pages, images = [], {}
    for p in paths:
        with open(p, "rb") as f:
            for rec in warc.iter_warc(f, p):
                if isinstance(rec, warc.PageRecord):
                    pages.append(rec)
                elif isinstance(rec, warc.ImageRecord):
                    images[rec.url] = rec.body
    assert len(pages) == 6 and len({p.url for p in pages}) == 6
    assert len(images) == 3 and len({hashlib.sha256(b).digest() for b in images.values()}) == 3
    import io

    from PIL import Image

    assert all(min(Image.open(io.BytesIO(b)).size) >= 160 for b in images.values())
    bodies = [p.body.decode() for p in pages]
    assert len(set(bodies)) == 6
    for body in bodies:
        assert "lazy.jpg" not in body and "<source" not in body and "srcset" not in body
        assert "p { color: red }" in body and "var words = 'river valley'" in body  # markup untouched
    from pipeline.extract import extract_document

    for p in pages:
        doc = extract_document(p.body, p.url)
        assert doc is not None and doc.images and all(im.url in images for im in doc.images)
    # A second call finds the cache instead of building again.
    mtimes = [os.path.getmtime(p) for p in paths]
    assert ci.build_input(data_dir, spec, tmp_path) == paths
    assert [os.path.getmtime(p) for p in paths] == mtimes


def test_copies_of_real_pages_are_not_near_duplicates():
    if not (DATA / "html").is_dir():
        pytest.skip("benchmark data absent")
    assert ci.max_copy_jaccard(DATA, ci.InputSpec(), templates=12, copies=3) < 0.5


def test_baseline_writes_what_the_beam_job_writes(tmp_path):
    import corpus_baseline

    from pipeline.jobs import corpus
    from pipeline.samplecrawl.build import build_sample_crawl
    from pipeline.shards import manifest

    crawl = str(tmp_path / "sample.warc.gz")
    build_sample_crawl(crawl)
    beam = corpus.run(["--input", crawl, "--output", str(tmp_path / "beam"), "--samples_per_shard", "4",
                       "--runner", "FnApiRunner", "--dropped_per_reason", "0"])  # as bench/corpus.py runs it
    base = corpus_baseline.run([crawl], str(tmp_path / "base"), corpus.CorpusConfig(samples_per_shard=4), 2)

    def hashes(out):
        return {e.shard: e.sha256 for e in manifest.read_manifests(str(out))}

    def nonzero(c):
        return {(ns, k): v for ns, d in c.items() for k, v in d.items() if v}

    assert base["samples"] == beam["samples"] > 5
    assert hashes(tmp_path / "base") == hashes(tmp_path / "beam")
    assert nonzero(base["counters"]) == nonzero(beam["counters"])
    assert (tmp_path / "base" / "report.md").exists() and not (tmp_path / "base" / "_work").exists()
