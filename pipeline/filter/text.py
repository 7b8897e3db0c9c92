"""Document text filters: each a pure ``(keep, reason)`` function, and `TextFilter` to run them.

The corpus job drops pages whose text is not worth training on. Every rule
here is a small function returning ``(keep, reason)``; the reason is a
snake_case string that the Beam layer (`pipeline.beam.dedup`) turns into
a counter, so every drop is counted and can be written aside.

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
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pipeline.filter import gopher

log = logging.getLogger(__name__)

Verdict = tuple[bool, str]
KEPT: Verdict = (True, "kept")

FILTER_NAMES = ("word_count", "language", "gopher_quality", "gopher_repetition", "flagged_words")

# Langid's scores are over-confident on long texts and flat on short or mixed ones;
# 0.65 (OBELICS used a fastText score cut of that order) drops pages with no clear language.
DEFAULT_MIN_LANG_SCORE = 0.65


@dataclass(frozen=True, kw_only=True)
class TextFilterConfig:
    """Which filters run, in which order, and their thresholds.

    ``filters`` lists the rules that run, in order; the first failure is the reason.
    Word count runs first by default because it is the cheapest and bounds the cost of
    the rest (a 2 MB text node never reaches the n-gram counters).
    """

    filters: tuple[str, ...] = FILTER_NAMES
    # language: an empty tuple keeps every language
    languages: tuple[str, ...] = ("en",)
    min_lang_score: float = DEFAULT_MIN_LANG_SCORE
    # langid reads only the first N characters: on the 181 bench pages 2,000 gave the same
    # language as 20,000 for every page, at ~2x the filter throughput.
    lang_id_max_chars: int = 2_000
    # word count (OBELICS)
    min_words: int = 10
    max_words: int = 2000
    # Gopher quality (Rae et al. 2021)
    gopher_languages: tuple[str, ...] = ("en",)
    min_mean_word_length: float = 3.0
    max_mean_word_length: float = 10.0
    max_symbol_word_ratio: float = 0.1
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    min_alpha_words_ratio: float = 0.8
    stop_words: tuple[str, ...] = ("the", "be", "to", "of", "and", "that", "have", "with")
    min_stop_words: int = 2
    # Gopher repetition (Rae et al. 2021)
    max_dup_line_fraction: float = 0.30
    max_dup_para_fraction: float = 0.30
    max_dup_line_char_fraction: float = 0.20
    max_dup_para_char_fraction: float = 0.20
    max_top_ngram_char_fraction: tuple[tuple[int, float], ...] = ((2, 0.20), (3, 0.18), (4, 0.16))
    max_dup_ngram_char_fraction: tuple[tuple[int, float], ...] = (
        (5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10),
    )  # fmt: skip
    # flagged words
    max_flagged_words_ratio: float = 0.01
    flagged_words_path: str | None = None  # None: the shipped English list
    flagged_words_languages: tuple[str, ...] = ("en",)

    def __post_init__(self) -> None:
        unknown = set(self.filters) - set(FILTER_NAMES)
        if unknown:
            raise ValueError(f"unknown filters {sorted(unknown)}; known: {FILTER_NAMES}")
        if self.min_words > self.max_words:
            raise ValueError("min_words > max_words")


def primary_language(tag: str | None) -> str | None:
    """'en-US' / 'EN_gb' / ' en ' -> 'en'; '' or None -> None."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return primary or None


def word_count_filter(text: str, config: TextFilterConfig) -> Verdict:
    n = len(text.split())
    if n < config.min_words:
        return False, "too_few_words"
    if n > config.max_words:
        return False, "too_many_words"
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
        return False, "language_not_allowed"
    if score >= config.min_lang_score or primary_language(declared_lang) == lang:
        return KEPT
    return False, "language_low_confidence"


def gopher_quality_filter(text: str, config: TextFilterConfig) -> Verdict:
    """Gopher's quality heuristics; the reason names the first failing rule."""
    tokens = text.split()
    words = gopher.words_of(text)
    mean_len = gopher.mean_word_length(words)
    if not config.min_mean_word_length <= mean_len <= config.max_mean_word_length:
        return False, "gopher_mean_word_length"
    hash_ratio, ellipsis_ratio = gopher.symbol_word_ratios(text, len(tokens))
    if max(hash_ratio, ellipsis_ratio) > config.max_symbol_word_ratio:
        return False, "gopher_symbol_word_ratio"
    lines = gopher.lines_of(text)
    if gopher.bullet_lines_ratio(lines) > config.max_bullet_lines_ratio:
        return False, "gopher_bullet_lines"
    if gopher.ellipsis_lines_ratio(lines) > config.max_ellipsis_lines_ratio:
        return False, "gopher_ellipsis_lines"
    if gopher.alpha_words_ratio(tokens) < config.min_alpha_words_ratio:
        return False, "gopher_alpha_words"
    if gopher.stop_word_count(words, frozenset(config.stop_words)) < config.min_stop_words:
        return False, "gopher_stop_words"
    return KEPT


def gopher_repetition_filter(text: str, config: TextFilterConfig) -> Verdict:
    """Gopher's repetition rules: duplicate lines/paragraphs and repeated n-grams."""
    line_frac, line_chars = gopher.duplicate_fractions(gopher.lines_of(text))
    if line_frac > config.max_dup_line_fraction:
        return False, "gopher_dup_line_fraction"
    if line_chars > config.max_dup_line_char_fraction:
        return False, "gopher_dup_line_chars"
    para_frac, para_chars = gopher.duplicate_fractions(gopher.paragraphs_of(text))
    if para_frac > config.max_dup_para_fraction:
        return False, "gopher_dup_para_fraction"
    if para_chars > config.max_dup_para_char_fraction:
        return False, "gopher_dup_para_chars"
    words = gopher.word_ids(gopher.words_of(text))
    for n, limit in config.max_top_ngram_char_fraction:
        if gopher.top_ngram_char_fraction(words, n) > limit:
            return False, f"gopher_top_{n}gram"
    for n, limit in config.max_dup_ngram_char_fraction:
        if gopher.duplicate_ngram_char_fraction(words, n) > limit:
            return False, f"gopher_dup_{n}gram"
    return KEPT


def flagged_words_filter(text: str, flagged: frozenset[str], config: TextFilterConfig) -> Verdict:
    words = gopher.words_of(text)
    if not words or not flagged:
        return KEPT
    ratio = sum(w.lower() in flagged for w in words) / len(words)
    if ratio > config.max_flagged_words_ratio:
        return False, "flagged_words"
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


class TextFilter:
    """Holds the loaded resources (language model, word list) and runs the configured rules.

    Build it once per worker (a Beam ``DoFn.setup``): loading langid takes ~0.3 s.
    """

    def __init__(self, config: TextFilterConfig | None = None) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self.config = config or TextFilterConfig()
        self._langid = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        self.flagged_words = load_flagged_words(self.config.flagged_words_path)

    def detect(self, text: str) -> tuple[str, float]:
        """(ISO 639-1 code, probability) of the text's language."""
        lang, score = self._langid.classify(text[: self.config.lang_id_max_chars])
        return lang, float(score)

    def check(self, text: str, declared_lang: str | None = None) -> Verdict:
        """Run the configured filters in order; the first failure's reason, else "kept"."""
        cfg = self.config
        lang: str | None = None
        score = 0.0
        for name in cfg.filters:
            if name in ("language", "gopher_quality", "flagged_words") and lang is None:
                lang, score = self.detect(text)
            if name == "word_count":
                verdict = word_count_filter(text, cfg)
            elif name == "language":
                verdict = language_filter(lang, score, cfg, declared_lang)
            elif name == "gopher_quality":
                in_scope = lang in cfg.gopher_languages
                verdict = gopher_quality_filter(text, cfg) if in_scope else KEPT
            elif name == "gopher_repetition":
                verdict = gopher_repetition_filter(text, cfg)
            else:
                in_scope = lang in cfg.flagged_words_languages
                verdict = flagged_words_filter(text, self.flagged_words, cfg) if in_scope else KEPT
            if not verdict[0]:
                return verdict
        return KEPT
