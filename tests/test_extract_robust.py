"""Never raises, bounded cost: pathological inputs return a document or a reason.

Cost is checked by behaviour, not the clock (speed lives in bench/): oversized input is
refused before any decoding or parsing, and each pathological page returns at all.
"""

import os

import pytest

from pipeline.extract import extract_document, extract_with_reason
from pipeline.extract import page as extract_module

PROSE = "<p>" + "A sentence of honest article prose, with a comma, that a reader would keep. " * 4 + "</p>"
URL = "https://e.org/p"


@pytest.mark.parametrize("html, reason", [
    (b"", "empty_input"),
    ("", "empty_input"),
    (b"   \n\t ", "empty_input"),
    (b"\x00\x01\x02\x03" * 1000, "not_html"),
    (b"<html><body></body></html>", "no_main_content"),
    (b"<html><body><p>Too short.</p></body></html>", "no_main_content"),
])
def test_degenerate_inputs(html, reason):
    assert extract_with_reason(html, URL) == (None, reason)


def test_random_binary_never_raises():
    data = os.urandom(200_000)
    doc, reason = extract_with_reason(data, URL)
    assert doc is None and reason in {"not_html", "no_main_content", "unparseable"}


def test_too_large_is_refused_before_decoding(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("an oversized page must be refused before decoding or parsing")

    monkeypatch.setattr(extract_module, "decode_html", never)
    monkeypatch.setattr(extract_module, "parse_html", never)
    big = b"<html><body>" + b"<p>" + b"x" * (50 * 1024 * 1024) + b"</p></body></html>"
    assert extract_with_reason(big, URL) == (None, "too_large")


def test_large_text_node_within_limit():
    words = ("word " * 1_000_000).encode()  # 5 MB, one text node
    doc, reason = extract_with_reason(b"<html><body><article><p>" + words + b"</p></article></body></html>", URL)
    assert doc is not None and len(doc.text) > 4_000_000


def test_deep_nesting_returns():
    html = "<html><body>" + "<div>" * 100_000 + PROSE + "</div>" * 100_000 + "</body></html>"
    assert extract_with_reason(html, URL) == (None, "too_deep")


def test_moderate_nesting_is_fine():
    html = "<html><body>" + "<div>" * 200 + PROSE + "</div>" * 200 + "</body></html>"
    doc = extract_document(html, URL)
    assert doc is not None and "honest article prose" in doc.text


def test_unclosed_tags_recover():
    html = "<html><body><article><p>" + PROSE[3:-4] + "<p>Second paragraph <b>bold <i>never closed"
    doc = extract_document(html, URL)
    assert doc is not None and "honest article prose" in doc.text and "never closed" in doc.text


def test_script_that_never_ends():
    html = f"<html><body><article>{PROSE}</article><script>var x = '" + "a" * 100_000
    doc = extract_document(html, URL)
    assert doc is not None and "var x" not in doc.text


def test_script_that_never_ends_swallows_everything():
    html = "<html><head><script>document.write('" + PROSE * 10
    assert extract_with_reason(html, URL) == (None, "no_main_content")


def test_many_siblings_are_all_kept():
    html = "<html><body><article>" + PROSE * 20_000 + "</article></body></html>"  # ~6 MB
    doc, _ = extract_with_reason(html, URL)
    assert doc is not None and len(doc.nodes) == 20_000


def test_wrong_charset_declaration():
    page = ('<html><head><meta charset="shift_jis"></head><body><article>' + PROSE +
            "<p>Ærøskøbing — “quoted” ünïcödé</p></article></body></html>").encode("utf-8")
    doc = extract_document(page, URL)
    assert doc is not None and "honest article prose" in doc.text


def test_xml_declaration_in_str_input():
    page = '<?xml version="1.0" encoding="utf-8"?><html><body><article>' + PROSE + "</article></body></html>"
    assert extract_document(page, URL) is not None


def test_bad_urls_do_not_raise():
    page = ('<html><head><base href="http://[::1"><link rel=canonical href="http://[bad"></head>'
            '<body><article>' + PROSE + '<img src="http://[::1/a.jpg"><img src="/ok.jpg">'
            + PROSE + "</article></body></html>")
    doc, reason = extract_with_reason(page, "http://[broken")  # nothing resolves: both counted
    assert reason is None and doc.images == [] and doc.dropped_images == {"bad_url": 2}
    doc, reason = extract_with_reason(page, URL)  # a broken <base> is ignored, the page URL used
    assert [i.url for i in doc.images] == ["https://e.org/ok.jpg"] and doc.dropped_images == {"bad_url": 1}


def test_fallback_inputs_are_capped():
    # A JSON-LD script over the cap is not parsed; many tiny templates are not grafted.
    huge = '{"@type": "Article", "articleBody": "' + "word " * 600_000 + '"}'  # 3 MB
    page = (f"<html><head><script type='application/ld+json'>{huge}</script></head>"
            "<body><div>Loading…</div>" + "<script type='text/template'><b>x</b></script>" * 2000
            + "</body></html>")
    assert extract_with_reason(page, URL) == (None, "no_main_content")
