"""The sample crawl: deterministic bytes, records as summarised, images that decode, every image a
page references accounted for, and the layouts and duplicate pairs the corpus job's tests need.
"""

from __future__ import annotations

import hashlib
import io
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from pipeline.samplecrawl.build import build_sample_crawl

REQUIRED_LAYOUTS = {"news", "blog", "gallery", "recipe", "product", "forum", "listing",
                    "boilerplate", "portfolio"}


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    path = tmp_path_factory.mktemp("a") / "sample.warc.gz"
    summary = build_sample_crawl(str(path), seed=0)
    with open(path, "rb") as fh:
        records = [(r.rec_type, r.rec_headers, r.http_headers, r.content_stream().read())
                   for r in ArchiveIterator(fh)]
    return summary, records


def _responses(records):
    return {h.get_header("WARC-Target-URI"): (hh, body)
            for t, h, hh, body in records if t == "response"}


def test_same_seed_same_bytes_other_seed_other_order(crawl, tmp_path):
    summary, _ = crawl
    again = build_sample_crawl(str(tmp_path / "sample.warc.gz"), seed=0)
    assert again["sha256"] == summary["sha256"]
    with open(tmp_path / "sample.warc.gz", "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == summary["sha256"]
    other = build_sample_crawl(str(tmp_path / "other" / "sample.warc.gz"), seed=1)
    assert other["sha256"] != summary["sha256"]
    assert other["page_urls"] != summary["page_urls"]
    assert sorted(other["page_urls"]) == sorted(summary["page_urls"])


def test_small_and_sized_as_asked(crawl):
    summary, _ = crawl
    assert 30 <= summary["num_pages"] <= 60
    assert summary["bytes"] < 8_000_000
    assert len(summary["image_urls"]) >= 60


def test_record_counts_and_types_match_summary(crawl):
    summary, records = crawl
    kinds = Counter(t for t, *_ in records)
    counts = summary["record_counts"]
    assert records[0][0] == "warcinfo"
    assert kinds["warcinfo"] == counts["warcinfo"] == 1
    assert kinds["request"] == counts["request"]
    # warcio reads the truncated response too (short body), hence the +1
    assert kinds["response"] == counts["response"] + counts["truncated_response"]
    ids = [h.get_header("WARC-Record-ID") for _, h, *_ in records]
    assert len(ids) == len(set(ids))
    response_ids = {h.get_header("WARC-Record-ID") for t, h, *_ in records if t == "response"}
    for t, h, *_ in records:
        if t == "request":
            assert h.get_header("WARC-Concurrent-To") in response_ids


def test_pages_are_html_200_in_declared_charset(crawl):
    summary, records = crawl
    resp = _responses(records)
    for url in summary["page_urls"]:
        headers, body = resp[url]
        assert headers.get_statuscode() == "200"
        ctype = headers.get_header("Content-Type")
        assert ctype.startswith("text/html; charset=")
        text = body.decode(ctype.split("charset=")[1])
        assert "<html" in text and int(headers.get_header("Content-Length")) == len(body)
    french = next(u for u, lang in summary["non_english"].items() if lang == "fr")
    assert summary["non_utf8"][french] == "iso-8859-1"
    assert "première" in resp[french][1].decode("iso-8859-1")


def test_every_image_record_decodes_with_pil(crawl):
    summary, records = crawl
    resp = _responses(records)
    mimes = Counter()
    for url in summary["image_urls"]:
        headers, body = resp[url]
        mimes[headers.get_header("Content-Type")] += 1
        with Image.open(io.BytesIO(body)) as im:
            im.load()
            assert list(im.size) == summary["image_sizes"][url]
    assert {"image/jpeg", "image/png", "image/webp", "image/gif"} <= set(mimes)
    for url in summary["svg_urls"]:
        assert ET.fromstring(resp[url][1]).tag.endswith("svg")
    for url in summary["http_only_image_urls"]:
        assert url not in resp


def test_distinct_images_have_distinct_bytes(crawl):
    summary, records = crawl
    resp = _responses(records)
    by_hash: dict[str, list[str]] = {}
    for url in summary["image_urls"] + summary["svg_urls"]:
        by_hash.setdefault(hashlib.sha256(resp[url][1]).hexdigest(), []).append(url)
    shared = sorted(sorted(g) for g in by_hash.values() if len(g) > 1)
    assert shared == summary["same_bytes"]
    pixels = set(summary["images_by_role"]["pixel"]) | set(summary["images_by_role"]["placeholder"])
    # deliberate reuse only: 1x1 GIFs, the shared share icon, and the syndicated photo
    for group in shared:
        assert set(group) <= pixels or all(u.endswith("share.svg") for u in group) or \
            any("wire/images" in u for u in group)


class _ImageRefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.urls += [a[k] for k in ("src", "data-src") if a.get(k)]
        if tag == "link" and a.get("rel") == "icon":
            self.urls.append(a["href"])
        if tag in ("img", "source") and a.get("srcset"):
            self.urls += [part.split()[0] for part in a["srcset"].split(",")]


def test_every_referenced_image_is_stored_or_http_only(crawl):
    summary, records = crawl
    resp = _responses(records)
    known = set(summary["image_urls"]) | set(summary["svg_urls"])
    http_only = set(summary["http_only_image_urls"])
    referenced = set()
    for url in summary["page_urls"]:
        headers, body = resp[url]
        parser = _ImageRefs()
        parser.feed(body.decode(headers.get_header("Content-Type").split("charset=")[1]))
        referenced |= {urljoin(url, u) for u in parser.urls if not u.startswith("data:")}
    assert referenced <= known | http_only
    assert known | http_only <= referenced


def test_layouts_and_facts_present(crawl):
    summary, _ = crawl
    assert REQUIRED_LAYOUTS <= set(summary["layouts"].values())
    assert set(summary["non_english"].values()) == {"fr", "de"}
    assert set(summary["noai_pages"].values()) == {"meta", "x-robots-tag"}
    assert summary["noai_image_urls"]
    kinds = {d["kind"] for d in summary["near_duplicates"]}
    assert kinds == {"url_variant", "print_copy", "syndicated", "variant"}
    roles = summary["images_by_role"]
    for role in ("logo", "ad", "icon", "pixel", "avatar", "thumbnail", "content", "placeholder"):
        assert roles.get(role), role
    assert set(roles["pixel"]) <= set(summary["small_image_urls"])
    assert summary["wide_image_urls"]
    hosts = " ".join(summary["http_only_image_urls"])
    for needle in ("127.0.0.1", "169.254.169.254", "10.0.0.5", "2130706433", "cdn."):
        assert needle in hosts


def test_repeated_images_pass_size_rules_so_only_repetition_catches_them(crawl):
    summary, _ = crawl
    repeated = summary["repeated_image_urls"]
    logos_and_ads = [u for u in repeated if u in summary["images_by_role"]["logo"]
                     or u in summary["images_by_role"]["ad"]]
    big = [u for u in logos_and_ads if u not in summary["small_image_urls"]
           and u not in summary["wide_image_urls"]]
    assert len(big) >= 4
    assert max(repeated[u] for u in big) >= 10


def test_non_pages_and_truncated_record(crawl):
    summary, records = crawl
    resp = _responses(records)
    statuses = {u: int(resp[u][0].get_statuscode()) for u in summary["non_200"]}
    assert statuses == summary["non_200"] and {301, 404} <= set(statuses.values())
    for url, location in summary["redirects"].items():
        assert resp[url][0].get_header("Location") == location
    for url, ctype in summary["non_html"].items():
        assert resp[url][0].get_header("Content-Type") == ctype
    (broken,) = summary["truncated_urls"]
    t, h, hh, body = records[-1]
    assert h.get_header("WARC-Target-URI") == broken
    assert len(body) < int(hh.get_header("Content-Length"))
