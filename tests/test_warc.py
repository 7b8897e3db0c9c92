"""Reading crawl files: every record becomes a page, an image or a counted skip."""

import gzip
import io

from conftest import jpeg_bytes
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.read import warc


def response(writer, url, body, ctype, status="200 OK", extra=()):
    headers = StatusAndHeaders(status, [("Content-Type", ctype), *extra], protocol="HTTP/1.1")
    rec = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=headers)
    writer.write_record(rec)


def make_warc(truncate=False) -> bytes:
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    response(w, "https://ex.com/a", b"<html><p>hello</p></html>", "text/html; charset=ISO-8859-1")
    response(w, "https://ex.com/i.jpg", jpeg_bytes(), "image/jpeg")
    response(w, "https://ex.com/missing", b"not found", "text/html", status="404 Not Found")
    response(w, "https://ex.com/doc.pdf", b"%PDF-1.4", "application/pdf")
    data = buf.getvalue()
    return data[:-40] if truncate else data


def test_records_are_classified():
    recs = list(warc.iter_warc(io.BytesIO(make_warc()), "x.warc.gz"))
    assert [type(r).__name__ for r in recs] == ["PageRecord", "ImageRecord", "Skip", "Skip"]
    page, image, missing, pdf = recs
    assert page.url == "https://ex.com/a" and page.charset == "iso-8859-1" and b"hello" in page.body
    assert image.body == jpeg_bytes() and image.content_type == "image/jpeg"
    assert missing.reason == "http_status_4xx" and pdf.reason == "not_html"


def test_truncated_warc_counts_instead_of_raising():
    recs = list(warc.iter_warc(io.BytesIO(make_warc(truncate=True)), "x.warc.gz"))
    assert isinstance(recs[0], warc.PageRecord)
    assert recs[-1].reason == "truncated_record"
    garbage = list(warc.iter_warc(io.BytesIO(b"\x1f\x8b garbage" * 10), "g.warc.gz"))
    assert garbage[-1].reason in ("corrupt_warc", "truncated_record", "not_html")


def test_oversized_page_is_skipped(monkeypatch):
    monkeypatch.setattr(warc, "MAX_HTML_BYTES", 10)
    rec = warc.classify("https://ex.com/big", 200, "text/html", io.BytesIO(b"x" * 11), "s")
    assert rec.reason == "page_too_large"


def test_html_files_with_sidecar_url(tmp_path):
    path = tmp_path / "page.html.gz"
    path.write_bytes(gzip.compress(b"<html><p>hi</p></html>"))
    (tmp_path / "page.html.gz.url").write_text("https://ex.com/page\n")
    sidecar = warc.sidecar_url((tmp_path / "page.html.gz.url").read_text())
    rec = warc.read_html_file(str(path), path.read_bytes(), sidecar)
    assert rec.url == "https://ex.com/page" and rec.body == b"<html><p>hi</p></html>"
    plain = tmp_path / "other.html"
    plain.write_bytes(b"<p>x</p>")
    assert warc.read_html_file(str(plain), plain.read_bytes()).url.startswith("file:///")


def test_gzipped_html_is_capped_while_decompressing(monkeypatch):
    import zlib

    monkeypatch.setattr(warc, "MAX_HTML_BYTES", 1000)
    bomb = gzip.compress(b"<p>" + b"a" * 10_000_000)  # ~10 KB that inflates to 10 MB
    calls = []
    real = zlib.decompressobj

    class Spy:
        def __init__(self, *a):
            self.d = real(*a)

        def decompress(self, data, max_length=0):
            out = self.d.decompress(data, max_length)
            calls.append(len(out))
            return out

        def __getattr__(self, name):
            return getattr(self.d, name)

    monkeypatch.setattr(warc.zlib, "decompressobj", Spy)
    rec = warc.read_html_file("bomb.html.gz", bomb)
    assert rec.reason == "page_too_large" and max(calls) <= 1001  # never inflated past the cap
    two = gzip.compress(b"<p>one</p>") + gzip.compress(b"<p>two</p>")  # several gzip members
    assert warc.read_html_file("two.html.gz", two).body == b"<p>one</p><p>two</p>"
    assert warc.read_html_file("cut.html.gz", gzip.compress(b"<p>x</p>" * 50)[:-12]).reason == "corrupt_gzip"


def _records_of(recs):
    return [(type(r).__name__, r.url, getattr(r, "reason", "")) for r in recs]


def test_split_ranges_cover_every_record_once(tmp_path):
    from pipeline.samplecrawl.build import build_sample_crawl

    path = tmp_path / "s.warc.gz"
    build_sample_crawl(str(path))
    data = path.read_bytes()
    whole = _records_of(warc.iter_warc(io.BytesIO(data), "s"))
    splits = warc.plan_splits(data[: 1 << 20], len(data), split_bytes=200_000)
    assert len(splits) > 10
    got = []
    with open(path, "rb") as f:
        for start, end in splits:
            got += _records_of(warc.iter_warc_range(f, start, end, "s"))
    assert got == whole  # same records, same order, none twice, truncated tail still flagged


def test_plain_warc_splits_and_single_stream_gzip_does_not(tmp_path):
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=False)
    for i in range(40):
        response(w, f"https://ex.com/{i}", b"<html><p>%d</p></html>" % i * 50, "text/html")
    plain = buf.getvalue()
    whole = _records_of(warc.iter_warc(io.BytesIO(plain)))
    splits = warc.plan_splits(plain[: 1 << 20], len(plain), split_bytes=5000)
    got = [r for s, e in splits for r in _records_of(warc.iter_warc_range(io.BytesIO(plain), s, e))]
    assert len(splits) > 5 and got == whole
    one_stream = gzip.compress(plain)
    assert warc.plan_splits(one_stream[: 1 << 20], len(one_stream), split_bytes=5000) == [(0, len(one_stream))]


def test_x_robots_tag_travels_with_the_record():
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    response(w, "https://ex.com/p", b"<p>x</p>", "text/html", extra=[("X-Robots-Tag", "noai")])
    response(w, "https://ex.com/i.jpg", jpeg_bytes(), "image/jpeg", extra=[("X-Robots-Tag", "noimageai")])
    page, image = warc.iter_warc(io.BytesIO(buf.getvalue()))
    assert page.robots == ("noai",) and image.robots == ("noimageai",)


def test_a_bad_record_is_skipped_and_the_file_goes_on():
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    response(w, "https://ex.com/odd", b"<p>x</p>", "text/html", status="abc Weird")
    response(w, "https://ex.com/bomb", b"not gzip at all", "text/html", extra=[("Content-Encoding", "gzip")])
    response(w, "https://ex.com/fine", b"<p>fine</p>", "text/html")
    recs = list(warc.iter_warc(io.BytesIO(buf.getvalue()), "x"))
    assert recs[0].reason == "bad_http_status"
    assert recs[-1].url == "https://ex.com/fine" and isinstance(recs[-1], warc.PageRecord)
    assert len(recs) == 3
