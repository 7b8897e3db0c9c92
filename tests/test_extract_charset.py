"""Charset decoding: header, meta, BOM, detection, and no mojibake."""

from pipeline.extract import extract_document
from pipeline.extract.charset import decode_html, normalize_charset

TEXT = "Crème brûlée, smörgåsbord and façade: déjà vu for the café owner in Zürich."


def _page(body: str, head: str = "") -> str:
    return f"<html><head>{head}<title>t</title></head><body><article><p>{body}</p></article></body></html>"


def test_str_passes_through():
    assert decode_html("héllo") == ("héllo", "str")


def test_meta_charset_latin1():
    data = _page(TEXT, '<meta charset="iso-8859-1">').encode("latin-1")
    text, enc = decode_html(data)
    assert TEXT in text and enc == "cp1252"


def test_http_charset_wins_over_meta():
    data = _page(TEXT, '<meta charset="utf-8">').encode("cp1252")
    text, _ = decode_html(data, http_charset="windows-1252")
    assert TEXT in text


def test_utf8_declared_latin1_is_not_mojibake():
    # A common defect: UTF-8 bytes under a latin-1 declaration.
    data = _page(TEXT, '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">')
    text, enc = decode_html(data.encode("utf-8"))
    assert enc == "utf-8" and TEXT in text and "Ã" not in text


def test_undeclared_utf8_and_bom():
    assert TEXT in decode_html(_page(TEXT).encode("utf-8"))[0]
    text, enc = decode_html(b"\xef\xbb\xbf" + _page(TEXT).encode("utf-8"))
    assert enc == "utf-8" and text.startswith("<html>")
    assert TEXT in decode_html(_page(TEXT).encode("utf-16"))[0]


def test_undeclared_legacy_is_detected():
    body = "Если вы читаете этот текст, значит кодировка определена правильно. " * 5
    text, _ = decode_html(_page(body).encode("cp1251"))
    assert "кодировка определена правильно" in text


def test_bogus_declaration_falls_back():
    data = _page(TEXT, '<meta charset="no-such-charset">').encode("utf-8")
    assert TEXT in decode_html(data)[0]
    assert normalize_charset("no-such-charset") is None
    assert normalize_charset("latin1") == "cp1252"


def test_document_text_has_no_mojibake():
    data = _page(TEXT * 3, '<meta charset="iso-8859-1">').encode("utf-8")
    doc = extract_document(data, "https://example.org/a")
    assert doc is not None and "Crème brûlée" in doc.text and "Ã" not in doc.text


def test_utf8_with_a_stray_latin1_byte_stays_utf8():
    # Declared UTF-8, one pasted latin-1 byte: detection would pick a single-byte charset and
    # garble every other accented character; browsers replace the bad byte and go on.
    data = _page(TEXT * 4, '<meta charset="utf-8">').encode("utf-8") + b"<p>K\xfcche</p>"
    text, enc = decode_html(data)
    assert TEXT in text and "K\ufffdche" in text and enc == "utf-8-replaced"
    doc = extract_document(data, "https://example.org/a")
    assert doc is not None and "Crème brûlée" in doc.text


def test_legacy_page_with_few_accents_is_not_taken_for_utf8():
    # Two bad bytes and no valid multi-byte sequence: not UTF-8, whatever detection makes of it.
    data = _page("Caf\xe9 and na\xefve, " + "plain words " * 50).encode("cp1252")
    assert decode_html(data)[1] not in ("utf-8", "utf-8-replaced")
