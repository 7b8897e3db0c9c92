"""In-article noise: invisible characters, ruby annotations, and (below) markers, stubs and
prompts that sit inside the article's container but are not the article."""

from pipeline.extract import extract_document

P1 = ("The river rose through the night, and by morning the old mill stood in water to its "
      "windows, the way the oldest residents, who remember the flood of 1952, said it would.")
P2 = ("Engineers from the county arrived before noon, measured the current at the bridge, and "
      "closed the road in both directions while volunteers stacked sandbags along the bank.")
URL = "https://news.example.org/2024/flood.html"


def _doc(inner: str):
    return extract_document(f"<html><body><article>{inner}</article></body></html>", URL)


def test_soft_hyphens_and_zero_width_spaces_are_removed():
    doc = _doc(f"<p>{P1}</p><p>Die Ge\u00adwäs\u00adser\u200bkarte zeigt den Pegel, der in der Nacht stieg.</p>")
    assert "Die Gewässerkarte zeigt den Pegel" in doc.text


def test_ruby_annotations_are_not_text():
    doc = _doc(f"<p>{P1}</p><p><ruby>子<rp>(</rp><rt>こ</rt><rp>)</rp></ruby>どもへの法律ができて、"
               "親が子どもを教育するために、新しいルールを作りました。</p>")
    assert "子どもへの法律ができて" in doc.text and "こ" not in doc.text.split("子")[0]
