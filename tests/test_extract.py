"""Main-content extraction on hand-written pages: furniture out, article in, in order."""

import pytest

from pipeline.document import Document, ImageNode, TextBlock
from pipeline.extract import ExtractOptions, extract_document, extract_with_reason

P1 = ("The river rose through the night, and by morning the old mill stood in water to its "
      "windows, the way the oldest residents, who remember the flood of 1952, said it would.")
P2 = ("Engineers from the county arrived before noon, measured the current at the bridge, and "
      "closed the road in both directions while volunteers stacked sandbags along the bank.")
P3 = ("By evening the water had begun to fall, leaving a line of mud on every wall in the lower "
      "town, and the mayor promised that repairs to the mill would start within the month.")

PAGE = f"""<!doctype html><html lang="en-GB"><head><title>Flood at the mill</title>
<link rel="canonical" href="/news/flood"></head><body>
<header class="site-header"><a href="/">Home</a> <a href="/news">News</a></header>
<nav><ul><li><a href="/a">World</a></li><li><a href="/b">Sport</a></li></ul></nav>
<div id="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
<main><article>
<h1>Flood at the mill</h1>
<div class="share-buttons"><a href="#">Share on Facebook</a> <a href="#">Tweet this</a></div>
<p>{P1}</p>
<figure><img src="/img/mill.jpg" alt="The mill" width="800" height="600">
<figcaption>The mill at dawn.</figcaption></figure>
<h2>Road closed</h2>
<p>{P2}</p>
<ul><li>Sandbags: 4,000 stacked by volunteers overnight</li><li>Road: closed until Friday</li></ul>
<blockquote>We have never seen the water rise this fast, said a resident.</blockquote>
<p>{P3}</p>
<div class="newsletter-signup"><p>Sign up for our newsletter to get the news every morning, free.</p></div>
<div class="related-articles"><h3>Related</h3><ul><li><a href="/x">Storm hits coast, hundreds without power</a></li>
<li><a href="/y">Council approves new flood defences after long debate</a></li></ul></div>
</article></main>
<aside class="sidebar"><p>Most read today: a long list of other stories you might like to read.</p></aside>
<section id="comments"><p>Great article, thanks for writing it, I live near there and it was scary.</p></section>
<footer><p>Copyright 2024 The Daily Example. All rights reserved. Privacy policy.</p></footer>
</body></html>"""


@pytest.fixture(scope="module")
def doc() -> Document:
    d = extract_document(PAGE, "https://news.example.org/2024/flood.html")
    assert d is not None
    return d


def test_article_text_kept_in_order(doc):
    text = doc.text
    assert text.index(P1) < text.index(P2) < text.index(P3)
    assert "Road closed" in text and "4,000 stacked" in text and "never seen the water" in text


@pytest.mark.parametrize("junk", ["Home", "World", "cookies", "Share on Facebook", "newsletter",
                                  "Storm hits coast", "Most read", "Great article", "Copyright"])
def test_furniture_removed(doc, junk):
    assert junk not in doc.text


def test_block_kinds(doc):
    kinds = {n.text[:12]: n.kind for n in doc.nodes if isinstance(n, TextBlock)}
    assert kinds["Road closed"] == "heading"
    assert kinds["Sandbags: 4,"] == "li"
    assert kinds["We have neve"] == "quote"
    assert kinds["The mill at "] == "caption"


def test_image_in_place_with_caption(doc):
    (img,) = doc.images
    assert img == ImageNode(url="https://news.example.org/img/mill.jpg", alt="The mill",
                            caption="The mill at dawn.", width=800, height=600)
    i = doc.nodes.index(img)
    assert doc.nodes[i - 1].text == P1 and doc.nodes[i + 1].text == "The mill at dawn."


def test_metadata(doc):
    assert doc.title == "Flood at the mill"
    assert doc.lang == "en-gb"
    assert doc.canonical_url == "https://news.example.org/news/flood"
    assert doc.opt_out == frozenset()


def test_text_joins_blocks_with_blank_lines(doc):
    assert f"{P1}\n\nThe mill at dawn.\n\nRoad closed\n\n{P2}" in doc.text
    assert "\n\n".join(n.text for n in doc.nodes if isinstance(n, TextBlock)) == doc.text


def test_json_round_trip(doc):
    import json
    import pickle

    again = Document.from_json(json.loads(json.dumps(doc.to_json())))
    assert again == doc
    assert pickle.loads(pickle.dumps(doc)) == doc


def test_hidden_elements_removed():
    page = (f"<html><body><article><p>{P1}</p><p style='display: none'>Secret hidden promo text "
            f"nobody sees on the page at all.</p><div hidden><p>{P2}</p></div><p>{P3}</p>"
            "</article></body></html>")
    doc = extract_document(page, "https://e.org/")
    assert P1 in doc.text and P3 in doc.text and "Secret" not in doc.text and P2 not in doc.text


def test_no_main_content_reason():
    doc, reason = extract_with_reason("<html><body><nav><a href='/'>Home</a></nav></body></html>",
                                      "https://e.org/")
    assert doc is None and reason == "no_main_content"


def test_options_are_validated():
    assert ExtractOptions().max_input_bytes > 1_000_000
    with pytest.raises(TypeError):
        extract_document(PAGE, "https://e.org/", no_such_option=1)
    assert extract_document(PAGE, "https://e.org/", min_text_chars=10**6) is None
    strict = ExtractOptions(min_text_chars=10**6)
    assert extract_with_reason(PAGE, "https://e.org/", options=strict) == (None, "no_main_content")
    assert extract_document(PAGE, "https://e.org/", options=strict, min_text_chars=10) is not None


def test_layout_without_semantic_tags():
    # No <article>, no hints: prose density alone must find the story among link lists.
    links = "".join(f"<li><a href='/{i}'>Section number {i}</a></li>" for i in range(30))
    page = (f"<html><body><div><ul>{links}</ul></div><div><div><p>{P1}</p><p>{P2}</p><p>{P3}</p>"
            f"</div></div><div><ul>{links}</ul></div></body></html>")
    doc = extract_document(page, "https://e.org/")
    assert doc.text == "\n\n".join([P1, P2, P3])


def test_extraction_imports_no_beam_or_torch():
    import subprocess
    import sys

    code = ("import sys, pipeline.extract, pipeline.cli.extract; "
            "assert not {'apache_beam', 'torch', 'trafilatura'} & set(sys.modules), sys.modules.keys()")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_loose_text_beside_block_children_is_the_article():
    # Older CMSs put the story as bare text (split by <br>) after a title <p>, in a column
    # that also holds block children; only a short address <p> elsewhere is in a <p>.
    links = "".join(f"<li><a href='/{i}'>Archive month {i}</a></li>" for i in range(30))
    page = (f"<html><body><div><div class='col-3'><ul>{links}</ul></div>"
            f"<div class='col-9'><p class='title'>Flood at the mill</p>"
            f"<small><b>05/10/2018</b> - Posted by: Ann</small><br><br>{P1}<br><br>{P2}<br>{P3}"
            f"<div class='row'><ul><li><a href='/s'>Share</a></li></ul></div></div></div>"
            "<div class='address'><p>City Hall - Main Street, 1111 - Riverside - Phone: 555 0100</p>"
            "</div></body></html>")
    doc = extract_document(page, "https://e.org/")
    assert doc is not None
    assert P1 in doc.text and P2 in doc.text and P3 in doc.text
    assert "Archive month" not in doc.text and "City Hall" not in doc.text


def test_loose_dateline_is_not_prose():
    # Loose text without a sentence end (a dateline) does not outweigh the story's <p>s.
    page = (f"<html><body><div class='wrap'><div class='head'><h1>Flood at the mill</h1>"
            "Updated 11:21 pm CST, Tuesday, November 19, 2019, Riverside, Oregon<div>by Ann</div>"
            f"</div><div class='story'><p>{P1}</p></div></div></body></html>")
    doc = extract_document(page, "https://e.org/")
    assert doc.text == P1


def test_wrappers_of_the_winner_are_not_its_rivals():
    # Content-named wrappers score close to the story they wrap. They are the same content,
    # not three rivals that would lift the pick to the page wrapper (byline and bio).
    sentences = ["The water rose fast in the night.", "The mill stood in the flood by dawn.",
                 "The road was shut until Friday noon.", "The mayor said that repairs start soon."]
    paras = "".join(f"<p>{s}</p>" for s in sentences)
    page = ("<html><body><div class='wrap'><div class='byline'>Posted in Local news by Ann Smith"
            "</div><div class='main-content'><div class='post-body'><div class='entry-content'>"
            f"<div class='text'>{paras}</div></div></div></div><div class='bio'><p>Ann Smith, a "
            "reporter, writes about rivers, mills, floods, roads, towns, and weather.</p></div>"
            "</div></body></html>")
    doc = extract_document(page, "https://e.org/")
    assert doc.text == "\n\n".join(sentences)


def test_story_split_into_chunks_is_taken_whole():
    # A story split into chunks, each in its own wrapper, with an ad slot between them.
    page = (f"<html><body><div><div class='chunks'><div class='grid'><div class='item'><p>{P1}</p>"
            f"<p>{P2}</p></div></div><div class='slot'>Advertisement</div><div class='grid'>"
            f"<div class='item'><p>{P3}</p><p>{P2[::-1]}</p></div></div></div></div>"
            "<div class='bio'><p>Ann Smith writes about rivers for the paper.</p></div></body></html>")
    doc = extract_document(page, "https://e.org/")
    assert P1 in doc.text and P3 in doc.text and "Ann Smith writes" not in doc.text
