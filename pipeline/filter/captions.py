"""Captions for image-text pairs: normalisation and ``(keep, reason)`` filters.

Alt text on the web is mostly not a caption: empty, a file name (``IMG_0042.jpg``),
a URL, or a generic word ("image", "logo", "click here"). ALIGN (Jia et al. 2021)
kept alt texts of 3–20 words after dropping such boilerplate; DataComp's pools
and LAION keep longer ones, so the default range here is 3–64 words. Each rule is
a pure function; :class:`CaptionFilter` holds the loaded resources (language model
and flagged-word list, both from :mod:`pipeline.filter.text`, not a second copy) and
runs the configured rules in order. The first failing rule names the drop.

Language on captions: langid is unreliable on a handful of words, so a caption in
an uncertain language is still kept when the page declares that language (the
same rule the document filter uses), and the score cut is lower than for pages.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

Verdict = tuple[bool, str]
KEPT: Verdict = (True, "kept")

# Most specific first, so a drop names what is wrong ("logo" is boilerplate, not merely short).
CAPTION_FILTERS = ("empty", "filename_or_url", "boilerplate", "length", "language", "flagged_words")

# Generic alt texts that describe nothing (ALIGN's "frequent boilerplate" idea),
# compared after normalisation (lower case, no punctuation, collapsed spaces).
_SINGLE_WORDS = frozenset("""image images img picture pictures photo photos photograph foto pic pics
    icon icons logo banner thumbnail thumb avatar placeholder spacer pixel blank untitled default
    loading advertisement ad sponsored gallery slide slideshow button arrow graphic""".split())
_GENERIC_PHRASES = frozenset({
    "click here", "click to enlarge", "click for larger image", "read more", "more details",
    "see more", "view image", "view larger image", "image not found", "featured image",
    "header image", "hero image", "profile picture", "profile photo", "cover image", "stock photo",
    "stock image", "no image available", "image unavailable", "alt text", "image description",
    "insert image here", "photo by", "image by", "image credit", "photo credit",
})

_URL_RE = re.compile(r"^(?:[a-z][a-z0-9+.\-]*://|www\.)\S+$", re.I)
_FILENAME_RE = re.compile(r"^[\w\-. ()%]+\.(?:jpe?g|png|gif|webp|bmp|tiff?|svg|avif|heic)$", re.I)
# Camera and upload names without an extension: IMG_1234, DSC01234, screenshot 2021-03-04.
_CAMERA_RE = re.compile(r"^(?:img|dsc|dscn|dcim|pxl|mvimg|photo|image|screenshot|screen shot)[\s_\-]*[\d_\-. ]+$", re.I)
_SPACE_RE = re.compile(r"\s+")
_PUNCT_RE = re.compile(r"[^\w\s]", re.UNICODE)


@dataclass(frozen=True, kw_only=True)
class CaptionFilterConfig:
    """Which caption rules run, in order, and their thresholds."""

    filters: tuple[str, ...] = CAPTION_FILTERS
    min_words: int = 3
    max_words: int = 64
    max_chars: int = 1000  # longer "captions" are page text that leaked into an attribute
    languages: tuple[str, ...] = ("en",)  # empty: keep every language
    min_lang_score: float = 0.5
    max_flagged_words_ratio: float = 0.0  # one explicit word in a short caption is enough
    flagged_words_path: str | None = None  # None: the list shipped with pipeline.filter.text

    def __post_init__(self) -> None:
        unknown = set(self.filters) - set(CAPTION_FILTERS)
        if unknown:
            raise ValueError(f"unknown caption filters {sorted(unknown)}; known: {CAPTION_FILTERS}")
        if self.min_words > self.max_words:
            raise ValueError("caption min_words > max_words")


def normalize_caption(text: str | None) -> str:
    """Unescape HTML entities, NFC, drop control characters, collapse whitespace."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", html.unescape(text))
    text = "".join(c if c.isprintable() or c.isspace() else " " for c in text)
    return _SPACE_RE.sub(" ", text).strip()


def _plain(text: str) -> str:
    return _SPACE_RE.sub(" ", _PUNCT_RE.sub(" ", text.lower())).strip()


def caption_empty(text: str) -> Verdict:
    return KEPT if text.strip() else (False, "caption_empty")


def caption_length(text: str, config: CaptionFilterConfig) -> Verdict:
    if len(text) > config.max_chars:
        return False, "caption_too_long"
    n = len(text.split())
    if n < config.min_words:
        return False, "caption_too_short"
    if n > config.max_words:
        return False, "caption_too_long"
    return KEPT


def caption_is_filename_or_url(text: str) -> Verdict:
    t = text.strip()
    if _URL_RE.match(t):
        return False, "caption_is_url"
    if _FILENAME_RE.match(t) or _CAMERA_RE.match(t):
        return False, "caption_is_filename"
    return KEPT


def caption_boilerplate(text: str) -> Verdict:
    """Generic alt texts: a boilerplate word alone, a generic phrase, or only such words."""
    plain = _plain(text)
    if not plain:
        return False, "caption_boilerplate"
    if plain in _GENERIC_PHRASES or plain in _SINGLE_WORDS:
        return False, "caption_boilerplate"
    words = plain.split()
    # "photo image logo", "image 3", "banner 2 of 5": only generic words and numbers
    if all(w in _SINGLE_WORDS or w.isdigit() or w == "of" for w in words):
        return False, "caption_boilerplate"
    return KEPT


def caption_flagged_words(text: str, flagged: frozenset[str], max_ratio: float) -> Verdict:
    words = _plain(text).split()
    if not words or not flagged:
        return KEPT
    ratio = sum(w in flagged for w in words) / len(words)
    return (False, "caption_flagged_words") if ratio > max_ratio else KEPT


class CaptionFilter:
    """Runs the configured rules on one caption. Build once per worker (langid loads ~0.3 s)."""

    def __init__(self, config: CaptionFilterConfig | None = None) -> None:
        self.config = config or CaptionFilterConfig()
        self._text_filter = None
        self.flagged: frozenset[str] = frozenset()
        needs_lang = "language" in self.config.filters and self.config.languages
        if needs_lang or "flagged_words" in self.config.filters:
            from pipeline.filter.text import TextFilter, TextFilterConfig, load_flagged_words

            if needs_lang:
                self._text_filter = TextFilter(TextFilterConfig(
                    filters=("language",), languages=self.config.languages,
                    min_lang_score=self.config.min_lang_score, min_words=0,
                ))
            if "flagged_words" in self.config.filters:
                self.flagged = load_flagged_words(self.config.flagged_words_path)

    def check(self, caption: str, declared_lang: str | None = None) -> Verdict:
        """``caption`` already normalised; ``declared_lang`` is the page's ``<html lang>``."""
        cfg = self.config
        for name in cfg.filters:
            if name == "empty":
                verdict = caption_empty(caption)
            elif name == "length":
                verdict = caption_length(caption, cfg)
            elif name == "filename_or_url":
                verdict = caption_is_filename_or_url(caption)
            elif name == "boilerplate":
                verdict = caption_boilerplate(caption)
            elif name == "language":
                verdict = self._language(caption, declared_lang)
            else:
                verdict = caption_flagged_words(caption, self.flagged, cfg.max_flagged_words_ratio)
            if not verdict[0]:
                return verdict
        return KEPT

    def _language(self, caption: str, declared_lang: str | None) -> Verdict:
        if self._text_filter is None:
            return KEPT
        keep, reason = self._text_filter.check(caption, declared_lang)
        return KEPT if keep else (False, f"caption_{reason}")
