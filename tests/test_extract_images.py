"""Image rules: which URL is taken, where the image sits, and every drop reason."""

import pytest

from pipeline.extract import extract_document
from pipeline.extract.images import parse_dimension, parse_srcset

PROSE = ("Paragraph of real article prose that goes on long enough, with commas, clauses, and "
         "detail, to be recognised as the main content of this page by any sensible reader. ")


def _doc(img_html: str, head: str = "", url: str = "https://site.example/news/story.html"):
    page = (f"<html><head>{head}</head><body><nav><a href='/'>Home</a><img src='/nav.jpg'></nav>"
            f"<article><p>{PROSE * 2}</p>{img_html}<p>{PROSE}</p></article></body></html>")
    doc = extract_document(page, url)
    assert doc is not None
    return doc


def test_srcset_parsing():
    assert parse_srcset("a.jpg 480w, b.jpg 1200w, c.jpg 800w") == "b.jpg"
    assert parse_srcset("a.jpg 1x, b.jpg 2x") == "b.jpg"
    assert parse_srcset("https://cdn.example/w_300,h_200/a.jpg 300w, /big.jpg 900w") == "/big.jpg"
    assert parse_srcset("only.jpg") == "only.jpg"
    assert parse_srcset("") is None
    assert parse_dimension("300px") == 300 and parse_dimension("100%") is None
    assert parse_dimension("auto") is None and parse_dimension(None) is None


@pytest.mark.parametrize("markup, expected", [
    ('<img src="photo.jpg">', "https://site.example/news/photo.jpg"),
    ('<img src="/a/photo.jpg" srcset="/s.jpg 300w, /l.jpg 1600w">', "https://site.example/l.jpg"),
    ('<img src="data:image/gif;base64,R0lGOD" data-src="/lazy.jpg" class="lazy">',
     "https://site.example/lazy.jpg"),
    ('<img data-lazy-src="//cdn.example/p.jpg">', "https://cdn.example/p.jpg"),
    ('<img data-original="p.jpg">', "https://site.example/news/p.jpg"),
    ('<img data-srcset="/s.jpg 1x, /l.jpg 2x" src="/placeholder.jpg">', "https://site.example/l.jpg"),
    ('<picture><source srcset="/p-800.webp 800w, /p-1600.webp 1600w"><img src="/p.jpg"></picture>',
     "https://site.example/p-1600.webp"),
    ('<img src="data:image/gif;base64,R0lGOD"><noscript><img src="/real.jpg"></noscript>',
     "https://site.example/real.jpg"),
])
def test_image_url_sources(markup, expected):
    assert [i.url for i in _doc(markup).images] == [expected]


def test_base_href_resolution():
    doc = _doc('<img src="img/a.jpg">', head='<base href="https://static.example/root/">')
    assert doc.images[0].url == "https://static.example/root/img/a.jpg"


def test_lazy_and_noscript_duplicate_kept_once():
    doc = _doc('<img data-src="/p.jpg" src="data:,"><noscript><img src="/p.jpg"></noscript>')
    assert [i.url for i in doc.images] == ["https://site.example/p.jpg"]
    assert doc.dropped_images.get("duplicate") == 1


def test_image_sits_between_paragraphs():
    doc = _doc('<img src="/p.jpg" alt="A photo" width="640" height="480">')
    kinds = [type(n).__name__ for n in doc.nodes]
    assert kinds == ["TextBlock", "ImageNode", "TextBlock"]
    assert (doc.images[0].alt, doc.images[0].width, doc.images[0].height) == ("A photo", 640, 480)


@pytest.mark.parametrize("markup, reason", [
    ('<img src="/t.gif" width="1" height="1">', "tracking_pixel"),
    ('<img src="https://stats.example/pixel.gif">', "tracking_pixel"),
    ('<img src="/img/spacer.gif">', "spacer"),
    ('<img src="/icons/share.png">', "icon"),
    ('<img src="/x.png" width="16" height="16">', "icon"),
    ('<img src="/img/site-logo.png">', "logo"),
    ('<img src="/u/1.jpg" class="avatar">', "avatar"),
    ('<img src="https://s.w.org/images/core/emoji/72x72/1f600.png" class="wp-smiley emoji">', "emoji"),
    ('<img src="https://x.example/adserver/www/delivery/avw.php?zoneid=9">', "ad"),
    ('<img src="https://ad.doubleclick.net/ddm/ad/x.jpg">', "ad"),
    # a call-to-action button
    ('<img src="https://cdn.example/cta/default/42/button.png" alt="Book a demo">', "ad"),
    ('<img src="data:image/png;base64,iVBORw0KGgo=">', "data_uri"),
    ('<img src="/chart.svg">', "svg"),
    ('<img alt="no source at all">', "no_src"),
    ('<img src="javascript:alert(1)">', "bad_scheme"),
])
def test_decorative_images_dropped_with_reason(markup, reason):
    doc = _doc(markup)
    assert doc.images == []
    assert doc.dropped_images.get(reason) == 1


def test_images_outside_main_content_counted():
    doc = _doc('<img src="/in.jpg">')
    assert [i.url for i in doc.images] == ["https://site.example/in.jpg"]
    assert doc.dropped_images.get("outside_main_content") == 1
