"""Turn page bytes of unknown charset into text, without mojibake.

Order of trust: the HTTP header charset (when the caller has one), a byte
order mark, the page's own ``<meta charset>`` / XML declaration, then
detection. Pages declaring a legacy single-byte charset but encoded in
UTF-8 are a common defect; decoding them as declared gives mojibake
("cafÃ©"), so valid multi-byte UTF-8 wins over such a declaration.

beautifulsoup4's ``EncodingDetector`` finds the declaration and
``UnicodeDammit`` (which uses charset_normalizer) does detection; both are
only reached when the fast paths (declared charset or strict UTF-8) fail.
"""

from __future__ import annotations

import codecs
import logging

from bs4.dammit import EncodingDetector, UnicodeDammit

log = logging.getLogger(__name__)

# Declaration sniffing only needs the head of the page (the HTML standard says 1024 bytes;
# real pages put long scripts first, so look a little further).
_SNIFF_BYTES = 16384
# Browsers decode these labels as windows-1252 (WHATWG encoding standard).
_CP1252_ALIASES = frozenset({"latin-1", "iso8859-1", "ascii", "cp1252"})
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def normalize_charset(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None when unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except (LookupError, ValueError):
        return None
    return "cp1252" if name in _CP1252_ALIASES else name


def _is_single_byte(name: str) -> bool:
    return name == "cp1252" or name.startswith(("iso8859", "cp125", "koi8", "mac-"))


def _strict(data: bytes, name: str) -> str | None:
    try:
        return data.decode(name)
    except (UnicodeDecodeError, LookupError):
        return None


def _from_bom(data: bytes) -> tuple[str, str] | None:
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(name, errors="replace"), name
    return None


def decode_html(data: bytes | str, http_charset: str | None = None) -> tuple[str, str]:
    """Decode page bytes; returns (text, codec name used). Never raises.

    The name is "utf-8" only when the bytes are valid UTF-8 (the parser may then take the
    bytes as they are); "utf-8-replaced" when a few invalid bytes were replaced."""
    if isinstance(data, str):
        return data, "str"
    bom = _from_bom(data)
    if bom is not None:
        return bom
    declared = normalize_charset(http_charset) or normalize_charset(
        EncodingDetector.find_declared_encoding(data[:_SNIFF_BYTES], is_html=True)
    )
    utf8 = _strict(data, "utf-8")
    if declared and declared != "utf-8":
        # A page that is valid UTF-8 with non-ASCII bytes is UTF-8 whatever it claims:
        # legacy single-byte text almost never forms valid multi-byte sequences.
        if utf8 is not None and _is_single_byte(declared) and not data.isascii():
            return utf8, "utf-8"
        text = _strict(data, declared)
        if text is not None:
            return text, declared
    if utf8 is not None:
        return utf8, "utf-8"
    nearly = _nearly_utf8(data) if declared in (None, "utf-8") else None
    if nearly is not None:
        return nearly, "utf-8-replaced"  # not "utf-8": the bytes are not valid UTF-8
    return _detect(data, declared)


def _nearly_utf8(data: bytes) -> str | None:
    """UTF-8 with a stray invalid byte or two (a pasted latin-1 character), decoded as
    browsers do: the bad bytes become U+FFFD. Statistical detection on such a page picks
    a wrong single-byte charset and turns every other non-ASCII character into mojibake."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    return text if bad <= max(3, non_ascii // 50) and non_ascii - bad > bad else None


def _detect(data: bytes, declared: str | None) -> tuple[str, str]:
    """Slow path: statistical detection, then a lossy decode as the last resort."""
    dammit = UnicodeDammit(data, known_definite_encodings=[declared] if declared else [], is_html=True)
    if dammit.unicode_markup is not None and dammit.original_encoding:
        return dammit.unicode_markup, normalize_charset(dammit.original_encoding) or "detected"
    fallback = declared or "utf-8"
    log.debug("charset detection failed, decoding %s with replacement", fallback)
    return data.decode(fallback, errors="replace"), fallback
