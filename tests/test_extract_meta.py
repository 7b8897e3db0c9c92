"""Page metadata and opt-out signals surfaced for the job to honour."""

import pytest

from pipeline.extract import extract_document

PROSE = "<p>" + "Plain article prose, long enough and with commas, to count as content here. " * 4 + "</p>"


def _doc(head: str, html_attrs: str = ""):
    page = f"<html {html_attrs}><head>{head}</head><body><article>{PROSE}</article></body></html>"
    doc = extract_document(page, "https://e.org/a/b.html")
    assert doc is not None
    return doc


@pytest.mark.parametrize("head, expected", [
    ('<meta name="robots" content="noai, noimageai">', {"noai", "noimageai"}),
    ('<meta name="ROBOTS" content="NOINDEX,nofollow">', {"noindex"}),
    ('<meta name="robots" content="none">', {"noindex"}),
    ('<meta name="CCBot" content="noai">', {"noai"}),
    ('<meta name="robots" content="index, follow">', set()),
    ('<meta name="description" content="noai">', set()),
])
def test_opt_out(head, expected):
    assert _doc(head).opt_out == frozenset(expected)


def test_language_sources():
    assert _doc("", 'lang="fr-CA"').lang == "fr-ca"
    assert _doc('<meta http-equiv="content-language" content="de, en">').lang == "de"
    assert _doc("", 'lang="not a language"').lang is None


def test_title_and_canonical():
    doc = _doc('<title>  A   title\n</title><link rel="canonical" href="../c.html">')
    assert doc.title == "A title"
    assert doc.canonical_url == "https://e.org/c.html"
