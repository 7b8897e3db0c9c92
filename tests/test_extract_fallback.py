"""Which method produces a document: main content first, then the fallbacks, before a drop.

Each page reproduces one failure pattern of main-content selection on a handful of lines.
"""

import json

from extract_support import P1, P2, P3, URL

from pipeline.document import Document
from pipeline.extract import extract_document, extract_with_reason


def test_main_method_on_an_ordinary_article():
    doc = extract_document(
        f"<html><body><article><p>{P1}</p><p>{P2}</p></article></body></html>", URL
    )
    assert doc.method == "main"


def test_method_survives_the_json_round_trip():
    doc = extract_document(
        f"<html><body><article><p>{P1}</p><p>{P2}</p></article></body></html>", URL
    )
    doc.method = "fallback"
    again = Document.from_json(json.loads(json.dumps(doc.to_json())))
    assert again == doc and again.method == "fallback"
    old = doc.to_json()
    del old["method"]  # documents written before the field existed read as "main"
    assert Document.from_json(old).method == "main"


def test_fallback_when_class_names_hide_the_whole_article():
    # Every section of the story carries a furniture-like name (a layout variant with ad
    # slots): the main pass removes them all, the looser pass (tags and roles only) keeps them.
    sections = "".join(
        f"<section class='report-section report-section--ads'><p>{p}</p></section>"
        for p in (P1, P2, P3)
    )
    page = (f"<html><body><nav><a href='/'>Home</a></nav><div class='report'>{sections}</div>"
            "</body></html>")
    doc, reason = extract_with_reason(page, URL)
    assert reason is None and doc.method == "fallback"
    assert P1 in doc.text and P3 in doc.text and "Home" not in doc.text


def test_fallback_renders_client_side_templates():
    # The post body only exists inside a template script a browser would render.
    template = f"<div class='post-body'><p>{P1}</p><p>{P2}</p></div>"
    page = (
        f"<html><body><div id='app'></div><script type='text/template'>{template}</script>"
        "</body></html>"
    )
    doc, reason = extract_with_reason(page, URL)
    assert reason is None and doc.method == "fallback" and P2 in doc.text


def test_schema_org_article_body_when_the_markup_has_no_text():
    ld = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebPage", "name": "x"},
            {"@type": "NewsArticle", "headline": "Flood", "articleBody": f"{P1}\n\n{P2}\n{P3}"},
        ],
    }
    page = (
        f"<html><head><script type='application/ld+json'>{json.dumps(ld)}</script></head>"
        "<body><div id='root'>Loading…</div></body></html>"
    )
    doc, reason = extract_with_reason(page, URL)
    assert reason is None and doc.method == "schema_org"
    assert doc.text == f"{P1}\n\n{P2}\n\n{P3}"


def test_schema_org_wins_when_main_keeps_far_less():
    ld = {"@type": "Article", "articleBody": " ".join([P1, P2, P3] * 2)}
    page = (
        f"<html><head><script type='application/ld+json'>{json.dumps(ld)}</script></head>"
        f"<body><article><p>{P1}</p></article></body></html>"
    )
    assert extract_document(page, URL).method == "schema_org"


def test_broken_json_ld_is_ignored():
    page = (
        '<html><head><script type=\'application/ld+json\'>{"articleBody": "unterminated'
        f"</script></head><body><article><p>{P1}</p></article></body></html>"
    )
    assert extract_document(page, URL).method == "main"


def test_page_prose_when_main_keeps_a_small_box():
    # A landing page: several equal sections, none dominant; main picks one, the page's
    # prose is three times as much, so every prose block of the page is taken instead.
    box = "<div class='teaser-box'><p>{}</p></div>"
    intro = (
        "Welcome to the river trust: we look after the banks, the mill and the meadows of "
        "the valley, with volunteers from every town along the water."
    )
    page = (
        "<html><body><div class='hero'><p>"
        + intro
        + "</p></div>"
        + "".join(
            f"<div class='col'><h2>Part {i}</h2>{box.format(p)}</div>"
            for i, p in enumerate((P1, P2, P3))
        )
        + "</body></html>"
    )
    doc = extract_document(page, URL)
    assert doc.method == "page_prose"
    assert all(p in doc.text for p in (intro, P1, P2, P3))


def test_no_main_content_only_when_no_method_finds_text():
    page = ("<html><body><nav><a href='/a'>Home</a> <a href='/b'>News</a></nav><div>Hi.</div>"
            "</body></html>")
    assert extract_with_reason(page, URL) == (None, "no_main_content")
