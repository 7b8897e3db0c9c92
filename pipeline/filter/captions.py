"""Captions for image-text pairs: normalisation and ``(keep, reason)`` filters.

Alt text on the web is mostly not a caption: empty, a file name (``IMG_0042.jpg``),
a URL, or a generic word ("image", "logo", "click here"). ALIGN (Jia et al. 2021)
kept alt texts of 3–20 words after dropping such boilerplate; DataComp's pools
and LAION keep longer ones, so the default range here is 3–64 words. Each rule is
a pure function registered as a ``caption`` rule of :mod:`pipeline.filter.rules`, whose
:class:`~pipeline.filter.rules.Filter` runs the configured ones in order (the language model
and the flagged-word list are the document rules' own, not a second copy). The first
failing rule names the drop.

Language on captions: langid is unreliable on a handful of words, so a caption in
an uncertain language is still kept when the page declares that language (the
same rule the document filter uses), and the score cut is lower than for pages.
"""

from __future__ import annotations

import html
import re
import unicodedata

from flamingo.typedconfig import config, opt, require
from pipeline.filter.rules import KEPT, RuleContext, Subject, Verdict, check_rule_names, drop, rule

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


@config
class CaptionFilterConfig:
    """Which caption rules run, in order, and their thresholds."""

    filters: tuple[str, ...] = opt(CAPTION_FILTERS, "rules that run, in order; the first failure is the reason")
    min_words: int = opt(3, "fewest words in a caption (ALIGN: 3)", min=0)
    max_words: int = opt(64, "most words in a caption", min=1)
    max_chars: int = opt(1000, "longest caption; longer ones are page text that leaked into an attribute", min=1)
    languages: tuple[str, ...] = opt(("en",), "languages kept (ISO 639-1); empty keeps every language")
    min_lang_score: float = opt(0.5, "langid probability below which a caption is dropped, unless its page's "
                                "language agrees", min=0.0, max=1.0)
    max_flagged_words_ratio: float = opt(0.0, "most flagged words per word (0: one is enough to drop)",
                                         min=0.0, max=1.0)
    flagged_words_path: str | None = opt(None, "word list; none: the shipped English list")

    def validate(self) -> None:
        check_rule_names("caption", self.filters)
        require(self.min_words <= self.max_words, "min_words", f"{self.min_words} is above max_words {self.max_words}")


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
    return KEPT if text.strip() else drop("caption_empty")


def caption_length(text: str, config: CaptionFilterConfig) -> Verdict:
    if len(text) > config.max_chars:
        return drop("caption_too_long")
    n = len(text.split())
    if n < config.min_words:
        return drop("caption_too_short")
    if n > config.max_words:
        return drop("caption_too_long")
    return KEPT


def caption_is_filename_or_url(text: str) -> Verdict:
    t = text.strip()
    if _URL_RE.match(t):
        return drop("caption_is_url")
    if _FILENAME_RE.match(t) or _CAMERA_RE.match(t):
        return drop("caption_is_filename")
    return KEPT


def caption_boilerplate(text: str) -> Verdict:
    """Generic alt texts: a boilerplate word alone, a generic phrase, or only such words."""
    plain = _plain(text)
    if not plain:
        return drop("caption_boilerplate")
    if plain in _GENERIC_PHRASES or plain in _SINGLE_WORDS:
        return drop("caption_boilerplate")
    words = plain.split()
    # "photo image logo", "image 3", "banner 2 of 5": only generic words and numbers
    if all(w in _SINGLE_WORDS or w.isdigit() or w == "of" for w in words):
        return drop("caption_boilerplate")
    return KEPT


def caption_flagged_words(text: str, flagged: frozenset[str], max_ratio: float) -> Verdict:
    words = _plain(text).split()
    if not words or not flagged:
        return KEPT
    ratio = sum(w in flagged for w in words) / len(words)
    return drop("caption_flagged_words") if ratio > max_ratio else KEPT


# ------------------------------------------------------------------- the registered rules


@rule("caption", "empty")
def _empty(s: Subject, ctx: RuleContext) -> Verdict:
    return caption_empty(s.text)


@rule("caption", "filename_or_url")
def _filename_or_url(s: Subject, ctx: RuleContext) -> Verdict:
    return caption_is_filename_or_url(s.text)


@rule("caption", "boilerplate")
def _boilerplate(s: Subject, ctx: RuleContext) -> Verdict:
    return caption_boilerplate(s.text)


@rule("caption", "length")
def _length(s: Subject, ctx: RuleContext) -> Verdict:
    return caption_length(s.text, ctx.config)


@rule("caption", "language")
def _language(s: Subject, ctx: RuleContext) -> Verdict:
    from pipeline.filter.text import language_rule

    keep, reason = language_rule(s, ctx)
    return KEPT if keep else drop(f"caption_{reason}")


@rule("caption", "flagged_words")
def _flagged_words(s: Subject, ctx: RuleContext) -> Verdict:
    return caption_flagged_words(s.text, ctx.flagged_words, ctx.config.max_flagged_words_ratio)
