"""In-article noise: invisible characters, ruby annotations, and (below) markers, stubs and
prompts that sit inside the article's container but are not the article."""

import pytest
from extract_support import P1, P2, URL

from pipeline.document import TextBlock
from pipeline.extract import extract_document
from pipeline.extract.noise import clean_nodes, noise_reason


def _doc(inner: str):
    return extract_document(f"<html><body><article>{inner}</article></body></html>", URL)


def test_soft_hyphens_and_zero_width_spaces_are_removed():
    doc = _doc(
        f"<p>{P1}</p><p>Die Ge\u00adwäs\u00adser\u200bkarte zeigt den Pegel, "
        "der in der Nacht stieg.</p>"
    )
    assert "Die Gewässerkarte zeigt den Pegel" in doc.text


def test_ruby_annotations_are_not_text():
    doc = _doc(
        f"<p>{P1}</p><p><ruby>子<rp>(</rp><rt>こ</rt><rp>)</rp></ruby>どもへの法律ができて、"
        "親が子どもを教育するために、新しいルールを作りました。</p>"
    )
    assert "子どもへの法律ができて" in doc.text and "こ" not in doc.text.split("子")[0]


@pytest.mark.parametrize(
    "text, reason",
    [
        ("Advertisement", "ad_marker"),
        ("ADVERTISEMENT", "ad_marker"),
        ("- Anzeige -", "ad_marker"),
        ("Read more", "stub"),
        ("Continue reading »", "stub"),
        ("Weiterlesen", "stub"),
        ("Share this article on Facebook", "prompt"),
        ("Sign up for our newsletter and never miss a story", "prompt"),
        ("Folgen Sie uns auf Twitter und Instagram", "prompt"),
        ("Was this article helpful?", "prompt"),
        ("Updated: 11.04.2020, 10:27", "byline_date"),
        ("Stand: 05.02.2020", "byline_date"),
        ("By Jane Smith", "byline_date"),
        ("4 min read", "byline_date"),
        ("24. März 2004, 19:49 | Genesis", "byline_date"),
        ("Foto: Christof Stache", "credit"),
        ("© 2022 The Daily Example. All rights reserved.", "notice"),
    ],
)
def test_noise_lines(text, reason):
    assert noise_reason(text) == reason


@pytest.mark.parametrize(
    "text",
    [
        P1,
        P2,
        "Advertising budgets fell sharply in 2020, the agency said in its yearly report.",
        "The council will share the cost of the new bridge with the county, it said on Monday.",
        "On 12.03.2019 the court ruled that the contract had been void from the start.",
        "Preheat the oven to 200 °C and line a tray with baking paper.",
        "Deadline: 03.11.2019 (postmark)",  # a date line with a label of its own is information
        "— Jane Doe (@janedoe) January 24, 2020",  # attribution of an embedded post
    ],
)
def test_prose_is_not_noise(text):
    assert noise_reason(text) is None


def test_trailing_stub_and_credit_are_cut_from_a_paragraph():
    nodes, dropped = clean_nodes(
        [
            TextBlock(P1 + " … Read more"),
            TextBlock("The new top model of the range is built only 1,895 times. © Photo: Maker"),
        ]
    )
    assert [n.text for n in nodes] == [
        P1,
        "The new top model of the range is built only 1,895 times.",
    ]
    assert dropped == {}


def test_headings_ending_the_document_go():
    nodes, dropped = clean_nodes(
        [
            TextBlock(P1),
            TextBlock("Related articles", "heading"),
            TextBlock("About the author", "heading"),
        ]
    )
    assert [n.text for n in nodes] == [P1] and dropped == {"orphan_heading": 2}


def test_noise_out_of_an_extracted_article():
    doc = _doc(
        f"<p>By Ann Smith</p><p>Updated 19 November 2019, 11:21</p><p>{P1}</p>"
        "<p>ADVERTISEMENT</p>"
        f"<p>{P2}</p><p>Share this article on Facebook</p><h3>Related articles</h3>"
        "<ul><li><a href='/a'>Storm hits coast</a></li><li><a href='/b'>Bridge shut</a></li></ul>"
    )
    assert doc.text == f"{P1}\n\n{P2}"
    kept = extract_document(
        f"<html><body><article><p>{P1}</p><p>ADVERTISEMENT</p><p>{P2}</p></article></body></html>",
        URL,
        remove_noise=False,
    )
    assert "ADVERTISEMENT" in kept.text


def test_copyright_sign_glued_to_the_year():
    assert noise_reason("©2021 Example Media GmbH") == "notice"


def test_text_is_nfc_normalised():
    # U+09DF (precomposed) is spelled U+09AF U+09BC in NFC; "e" + combining acute becomes "é".
    doc = _doc(
        f"<p>{P1}</p><p>Cafe\u0301 und \u09df sind hier dieselben Zeichen wie anderswo, "
        "so ist es.</p>"
    )
    assert "Café und \u09af\u09bc sind" in doc.text


def test_a_caption_mentioning_an_image_is_not_a_credit():
    assert noise_reason("A crop of a deep field image: nearly every speck is a galaxy.") is None
    assert noise_reason("Photo credit: Jane Doe/Agency") == "credit"
