"""Document text rules: each a pure ``(text, config) -> Verdict`` function, registered as a
``text`` rule of :mod:`pipeline.filter.rules`.

The corpus job drops pages whose text is not worth training on. Every rule returns a
Verdict whose reason is a snake_case string that the Beam layer's one counting DoFn
(`pipeline.beam.filter`) turns into a counter, so every drop is counted and can be
written aside.

Rules (defaults from the papers that introduced them):

* word count — OBELICS (Laurençon et al. 2023) keeps documents of 10–2000 words.
* language — py3langid, the offline langid.py model that the PyPI package
  ships (97 languages, ~0.5 ms for 2,000 words on one core, already a
  dependency). lingua-language-detector is more accurate on short snippets
  but is a ~100 MB install and an order of magnitude slower; on whole web
  pages (tens of words and up) langid's accuracy is enough, so speed wins.
* Gopher quality and repetition — Rae et al. 2021 (MassiveText), appendix A;
  the statistics themselves live in `pipeline.filter.gopher`.
* flagged words — the fraction of words in a replaceable list of explicit
  terms. OBELICS cut documents around 0.01 on its own list; we keep that
  default (1 flagged word per 100), which removes pornographic pages and
  keeps news articles that quote a single slur.

Languages: the Gopher *quality* rules (stop words, word length, alphabetic
words, bullets, ellipses) and the flagged-word list are English-specific, so
they apply only when the detected language is in ``gopher_languages`` /
``flagged_words_languages`` (default ``("en",)``); other kept languages pass
them untested. Word count and the repetition rules apply to every language,
but they count whitespace words, so for scripts written without spaces
(zh, ja, th) they under-count words — keep such languages only with
``min_words`` lowered and with that caveat in mind.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from flamingo.typedconfig import config, opt, require
from pipeline.filter import gopher
from pipeline.filter.rules import KEPT, RuleContext, Subject, Verdict, check_rule_names, drop, rule

log = logging.getLogger(__name__)

FILTER_NAMES = ("word_count", "language", "gopher_quality", "gopher_repetition", "flagged_words")

# Langid's scores are over-confident on long texts and flat on short or mixed ones;
# 0.65 (OBELICS used a fastText score cut of that order) drops pages with no clear language.
DEFAULT_MIN_LANG_SCORE = 0.65
_RATIO = {"min": 0.0, "max": 1.0}


@config
class TextFilterConfig:
    """Which document rules run, in which order, and their thresholds.

    Word count runs first by default because it is the cheapest and bounds the cost of
    the rest (a 2 MB text node never reaches the n-gram counters).
    """

    filters: tuple[str, ...] = opt(FILTER_NAMES, "rules that run, in order; the first failure is the reason")
    languages: tuple[str, ...] = opt(("en",), "languages kept (ISO 639-1); empty keeps every language")
    min_lang_score: float = opt(DEFAULT_MIN_LANG_SCORE, "langid probability below which a page is dropped, "
                                "unless its <html lang> agrees", **_RATIO)
    # langid reads only the first N characters: on the 181 bench pages 2,000 gave the same
    # language as 20,000 for every page, at ~2x the filter throughput.
    lang_id_max_chars: int = opt(2_000, "characters langid reads", min=1)
    min_words: int = opt(10, "fewest words a document may have (OBELICS: 10)", min=0)
    max_words: int = opt(2000, "most words a document may have (OBELICS: 2000)", min=1)
    gopher_languages: tuple[str, ...] = opt(("en",), "languages the Gopher quality rules apply to")
    min_mean_word_length: float = opt(3.0, "Gopher: shortest mean word length", min=0)
    max_mean_word_length: float = opt(10.0, "Gopher: longest mean word length", min=0)
    max_symbol_word_ratio: float = opt(0.1, "Gopher: most '#' or ellipsis per word", **_RATIO)
    max_bullet_lines_ratio: float = opt(0.9, "Gopher: most lines starting with a bullet", **_RATIO)
    max_ellipsis_lines_ratio: float = opt(0.3, "Gopher: most lines ending with an ellipsis", **_RATIO)
    min_alpha_words_ratio: float = opt(0.8, "Gopher: fewest words with a letter", **_RATIO)
    stop_words: tuple[str, ...] = opt(("the", "be", "to", "of", "and", "that", "have", "with"),
                                      "Gopher: the stop words counted")
    min_stop_words: int = opt(2, "Gopher: fewest stop words", min=0)
    max_dup_line_fraction: float = opt(0.30, "Gopher: most duplicate lines", **_RATIO)
    max_dup_para_fraction: float = opt(0.30, "Gopher: most duplicate paragraphs", **_RATIO)
    max_dup_line_char_fraction: float = opt(0.20, "Gopher: most characters in duplicate lines", **_RATIO)
    max_dup_para_char_fraction: float = opt(0.20, "Gopher: most characters in duplicate paragraphs", **_RATIO)
    max_top_ngram_char_fraction: tuple[tuple[int, float], ...] = opt(
        ((2, 0.20), (3, 0.18), (4, 0.16)), "Gopher: [n, most characters in the top n-gram] pairs")
    max_dup_ngram_char_fraction: tuple[tuple[int, float], ...] = opt(
        ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)),
        "Gopher: [n, most characters in duplicate n-grams] pairs")
    max_flagged_words_ratio: float = opt(0.01, "most flagged words per word", **_RATIO)
    flagged_words_path: str | None = opt(None, "word list, one per line ('#' comments); none: the shipped English list")
    flagged_words_languages: tuple[str, ...] = opt(("en",), "languages the flagged-word rule applies to")

    def validate(self) -> None:
        check_rule_names("text", self.filters)
        require(self.min_words <= self.max_words, "min_words", f"{self.min_words} is above max_words {self.max_words}")
        require(self.min_mean_word_length <= self.max_mean_word_length, "min_mean_word_length",
                "is above max_mean_word_length")
        for field in ("max_top_ngram_char_fraction", "max_dup_ngram_char_fraction"):
            for n, limit in getattr(self, field):
                require(n >= 1 and 0 <= limit <= 1, field, f"[{n}, {limit}] is out of range",
                        "n >= 1, fraction 0 to 1")
        require(self.flagged_words_path is None or Path(self.flagged_words_path).is_file(), "flagged_words_path",
                f"{self.flagged_words_path} is not a file")


def primary_language(tag: str | None) -> str | None:
    """'en-US' / 'EN_gb' / ' en ' -> 'en'; '' or None -> None."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return primary or None


def word_count_filter(text: str, config: TextFilterConfig) -> Verdict:
    n = len(text.split())
    if n < config.min_words:
        return drop("too_few_words")
    if n > config.max_words:
        return drop("too_many_words")
    return KEPT


def language_filter(
    lang: str, score: float, config: TextFilterConfig, declared_lang: str | None = None
) -> Verdict:
    """Keep when the detected language is allowed and confident.

    A low-confidence detection is still kept when the page declares the same language
    (``<html lang>``): two weak signals that agree are better evidence than either.
    """
    if not config.languages:
        return KEPT
    if lang not in config.languages:
        return drop("language_not_allowed")
    if score >= config.min_lang_score or primary_language(declared_lang) == lang:
        return KEPT
    return drop("language_low_confidence")


def gopher_quality_filter(text: str, config: TextFilterConfig) -> Verdict:
    """Gopher's quality heuristics; the reason names the first failing rule."""
    tokens = text.split()
    words = gopher.words_of(text)
    mean_len = gopher.mean_word_length(words)
    if not config.min_mean_word_length <= mean_len <= config.max_mean_word_length:
        return drop("gopher_mean_word_length")
    hash_ratio, ellipsis_ratio = gopher.symbol_word_ratios(text, len(tokens))
    if max(hash_ratio, ellipsis_ratio) > config.max_symbol_word_ratio:
        return drop("gopher_symbol_word_ratio")
    lines = gopher.lines_of(text)
    if gopher.bullet_lines_ratio(lines) > config.max_bullet_lines_ratio:
        return drop("gopher_bullet_lines")
    if gopher.ellipsis_lines_ratio(lines) > config.max_ellipsis_lines_ratio:
        return drop("gopher_ellipsis_lines")
    if gopher.alpha_words_ratio(tokens) < config.min_alpha_words_ratio:
        return drop("gopher_alpha_words")
    if gopher.stop_word_count(words, frozenset(config.stop_words)) < config.min_stop_words:
        return drop("gopher_stop_words")
    return KEPT


def gopher_repetition_filter(text: str, config: TextFilterConfig) -> Verdict:
    """Gopher's repetition rules: duplicate lines/paragraphs and repeated n-grams."""
    line_frac, line_chars = gopher.duplicate_fractions(gopher.lines_of(text))
    if line_frac > config.max_dup_line_fraction:
        return drop("gopher_dup_line_fraction")
    if line_chars > config.max_dup_line_char_fraction:
        return drop("gopher_dup_line_chars")
    para_frac, para_chars = gopher.duplicate_fractions(gopher.paragraphs_of(text))
    if para_frac > config.max_dup_para_fraction:
        return drop("gopher_dup_para_fraction")
    if para_chars > config.max_dup_para_char_fraction:
        return drop("gopher_dup_para_chars")
    words = gopher.word_ids(gopher.words_of(text))
    for n, limit in config.max_top_ngram_char_fraction:
        if gopher.top_ngram_char_fraction(words, n) > limit:
            return drop(f"gopher_top_{n}gram")
    for n, limit in config.max_dup_ngram_char_fraction:
        if gopher.duplicate_ngram_char_fraction(words, n) > limit:
            return drop(f"gopher_dup_{n}gram")
    return KEPT


def flagged_words_filter(text: str, flagged: frozenset[str], config: TextFilterConfig) -> Verdict:
    words = gopher.words_of(text)
    if not words or not flagged:
        return KEPT
    ratio = sum(w.lower() in flagged for w in words) / len(words)
    if ratio > config.max_flagged_words_ratio:
        return drop("flagged_words")
    return KEPT


def load_flagged_words(path: str | None = None) -> frozenset[str]:
    """One word per line, '#' starts a comment; case-insensitive. None: the shipped list."""
    if path is None:
        raw = resources.files("pipeline.filter").joinpath("flagged_words_en.txt").read_text("utf-8")
    else:
        raw = Path(path).read_text("utf-8")
    words = set()
    for line in raw.splitlines():
        word = line.split("#", 1)[0].strip().lower()
        if word:
            words.add(word)
    return frozenset(words)


# ------------------------------------------------------------------- the registered rules


@rule("text", "word_count")
def _word_count(s: Subject, ctx: RuleContext) -> Verdict:
    return word_count_filter(s.text, ctx.config)


@rule("text", "language")
def language_rule(s: Subject, ctx: RuleContext) -> Verdict:
    """The language rule for any config with ``languages`` and ``min_lang_score`` (captions too)."""
    if not ctx.config.languages:  # every language kept: no detection needed
        return KEPT
    lang, score = ctx.language(s)
    return language_filter(lang, score, ctx.config, s.declared_lang)


@rule("text", "gopher_quality")
def _gopher_quality(s: Subject, ctx: RuleContext) -> Verdict:
    in_scope = ctx.language(s)[0] in ctx.config.gopher_languages
    return gopher_quality_filter(s.text, ctx.config) if in_scope else KEPT


@rule("text", "gopher_repetition")
def _gopher_repetition(s: Subject, ctx: RuleContext) -> Verdict:
    return gopher_repetition_filter(s.text, ctx.config)


@rule("text", "flagged_words")
def _flagged_words(s: Subject, ctx: RuleContext) -> Verdict:
    in_scope = ctx.language(s)[0] in ctx.config.flagged_words_languages
    return flagged_words_filter(s.text, ctx.flagged_words, ctx.config) if in_scope else KEPT
