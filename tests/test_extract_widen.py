"""The article around the scored core: leads, intros and split parts join it; headlines,
bylines, captions and teaser lists do not. Class names are judged by their words."""

import pytest
from extract_support import P1, P2, P3, URL

from pipeline.extract import extract_document
from pipeline.extract.names import hint_flags

LEAD = "The mill is flooded again, and this time the town says it will not wait for help."


def _body(core: str) -> str:
    return f"<div class='story-body'><p>{P1}</p><p>{P2}</p><p>{P3}</p>{core}</div>"


def test_lead_in_the_article_header_joins_but_not_headline_or_byline():
    page = (
        "<html><body><article><header><h1>Flood at the mill</h1><p class='lead'>"
        f"{LEAD}</p><p>By Ann Smith</p></header>{_body('')}</article></body></html>"
    )
    doc = extract_document(page, URL)
    assert doc.text.startswith(LEAD) and P3 in doc.text
    assert "Flood at the mill" not in doc.text and "Ann Smith" not in doc.text


def test_intro_in_its_own_box_beside_the_body_joins():
    page = (
        f"<html><body><article><div class='intro-box'><div><p>{LEAD}</p></div></div>"
        f"<div class='col'>{_body('')}</div></article></body></html>"
    )
    assert extract_document(page, URL).text.startswith(LEAD)


def test_teaser_list_after_the_article_does_not_join():
    teasers = "".join(
        f"<div class='card'><h3><a href='/s{i}'>Another story about the valley, number {i}</a></h3>"
        f"<p>An excerpt that reads like prose, with a full stop at its end, number {i}.</p></div>"
        for i in range(4)
    )
    page = (
        f"<html><body><article>{_body('')}<div class='more'>{teasers}</div></article></body></html>"
    )
    doc = extract_document(page, URL)
    assert P3 in doc.text and "excerpt" not in doc.text


def test_blocks_outside_the_article_container_stay_out():
    page = (
        f"<html><body><div class='box'><p>{LEAD}</p></div><main><article>{_body('')}"
        "</article></main></body></html>"
    )
    assert LEAD not in extract_document(page, URL).text


@pytest.mark.parametrize(
    "value, furniture",
    [
        ("sidebar-left", True),
        ("mainNav", True),
        ("most-popular", True),
        ("mostPopular", True),
        ("comments-list", True),
        ("author-bio", True),
        ("entry-meta", True),
        ("APageRoot", False),  # "pager" only as a substring of a camelCase name
        ("metadata-panel", False),
        ("shadow-box", False),
        ("post-content", False),
    ],
)
def test_class_names_are_judged_by_their_words(value, furniture):
    assert hint_flags(value)[0] is furniture


@pytest.mark.parametrize(
    "value", ["non-paywall", "readmore-text", "card-header", "elementor-widget-wrap"]
)
def test_weak_names_only_drop_small_blocks(value):
    flags = hint_flags(value)
    assert flags[1] and not flags[0]
    page = (
        f"<html><body><div class='{value}'><p>{P1}</p><p>{P2}</p></div>"
        f"<div class='x'><p>{P3}</p></div></body></html>"
    )
    doc = extract_document(page, URL)
    assert P1 in doc.text  # most of the page's text: not furniture whatever its name
    small = (
        f"<html><body><div class='{value}'><p>A small box of text.</p></div>"
        f"<article><p>{P1}</p><p>{P2}</p><p>{P3}</p></article></body></html>"
    )
    assert "small box" not in extract_document(small, URL).text


@pytest.mark.parametrize(
    "value, furniture",
    [
        (
            "related-articles",
            True,
        ),  # the furniture word names the block, the content word its items
        ("post-footer", True),
        ("p-body-main p-body-main--withSidebar", False),  # a separate content name vetoes
        ("block-body js-reply-container", False),  # "js-" names are script hooks, not roles
        ("news commentary", False),  # an opinion piece, not a comment thread
    ],
)
def test_content_names_veto_only_from_their_own_class_name(value, furniture):
    unlikely, _, content, _ = hint_flags(value)
    assert (unlikely and not content) is furniture


def test_of_several_articles_the_one_titled_like_the_page_wins():
    # An endless-scroll page: the page's own story first, a later one appended that scores
    # higher on its own (more commas).
    other = (
        "Council, mayor, county, engineers, volunteers, residents, the trust, the press, the "
        "police and the fire brigade met, talked, argued, voted and, at last, agreed."
    )
    page = (
        "<html><head><title>Daily Example | Flood at the old mill</title></head><body><main>"
        f"<article><h1>Flood at the old mill</h1><div class='text'><p>{P1}</p></div></article>"
        f"<article><h1>Budget passes after a long night</h1><div class='text'><p>{other}</p>"
        "</div></article></main></body></html>"
    )
    doc = extract_document(page, URL)
    assert P1 in doc.text and other not in doc.text


def test_a_list_beside_the_body_joins_but_not_a_link_list():
    items = "".join(f"<li>{n} g of {w}, chopped</li>" for n, w in ((200, "flour"), (50, "butter"),
                                                                 (2, "eggs"), (100, "sugar")))
    links = "".join(f"<li><a href='/r{i}'>Another recipe number {i}</a></li>" for i in range(4))
    page = (f"<html><body><article><div class='box'><ul>{items}</ul></div>{_body('')}"
            f"<div class='box2'><ul>{links}</ul></div></article></body></html>")
    doc = extract_document(page, URL)
    assert "200 g of flour, chopped" in doc.text and "100 g of sugar" in doc.text
    assert "Another recipe" not in doc.text
