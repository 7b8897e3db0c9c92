"""Text statistics behind the Gopher / MassiveText quality and repetition rules.

Rae et al. 2021 ("Scaling Language Models: Methods, Analysis & Insights from
Training Gopher", appendix A) filter web pages with a handful of cheap
statistics. This module only *measures* them; `pipeline.filter.text` turns the
numbers into (keep, reason) verdicts against configurable thresholds, so the
measures can be tested and reused on their own.

Words are whitespace tokens (as in the paper). That is right for languages
written with spaces and wrong for Chinese, Japanese or Thai, where a
paragraph is one "word"; see `pipeline.filter.text` for how languages are gated.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

# Characters stripped from both ends of a token before it counts as a word.
# Unicode quotes and dashes are included because web text is full of them.
PUNCTUATION = string.punctuation + "“”‘’«»„‚–—…·•●○▪■□►▶→"

BULLETS = ("•", "●", "○", "▪", "■", "□", "►", "▶", "◦", "‣", "-", "*", "–", "—", "·")
ELLIPSES = ("...", "…")


def words_of(text: str) -> list[str]:
    """Whitespace tokens with surrounding punctuation removed; pure-symbol tokens dropped."""
    out = []
    for token in text.split():
        word = token.strip(PUNCTUATION)
        if word:
            out.append(word)
    return out


def lines_of(text: str) -> list[str]:
    """Non-empty lines, stripped."""
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def paragraphs_of(text: str) -> list[str]:
    """Blocks separated by blank lines (how `Document.text` joins its blocks)."""
    paras, current = [], []
    for line in text.splitlines():
        if line.strip():
            current.append(line.strip())
        elif current:
            paras.append("\n".join(current))
            current = []
    if current:
        paras.append("\n".join(current))
    return paras


def mean_word_length(words: Sequence[str]) -> float:
    return sum(map(len, words)) / len(words) if words else 0.0


def symbol_word_ratios(text: str, n_words: int) -> tuple[float, float]:
    """(hash ratio, ellipsis ratio): occurrences of '#' and of '...'/'…' per word."""
    if n_words == 0:
        return 0.0, 0.0
    ellipses = text.count("...") + text.count("…")
    return text.count("#") / n_words, ellipses / n_words


def bullet_lines_ratio(lines: Sequence[str]) -> float:
    return sum(ln.startswith(BULLETS) for ln in lines) / len(lines) if lines else 0.0


def ellipsis_lines_ratio(lines: Sequence[str]) -> float:
    return sum(ln.endswith(ELLIPSES) for ln in lines) / len(lines) if lines else 0.0


def alpha_words_ratio(tokens: Sequence[str]) -> float:
    """Fraction of whitespace tokens that contain at least one alphabetic character."""
    if not tokens:
        return 0.0
    return sum(any(ch.isalpha() for ch in tok) for tok in tokens) / len(tokens)


def stop_word_count(words: Sequence[str], stop_words: frozenset[str]) -> int:
    """Occurrences (not distinct words) of stop words, case-insensitive, as in the paper."""
    return sum(w.lower() in stop_words for w in words)


def duplicate_fractions(elements: Sequence[str]) -> tuple[float, float]:
    """(fraction of elements, fraction of characters) that repeat an earlier element.

    The first occurrence is not a duplicate; every later copy is.
    """
    if not elements:
        return 0.0, 0.0
    seen: set[str] = set()
    dup_count = dup_chars = 0
    for el in elements:
        if el in seen:
            dup_count += 1
            dup_chars += len(el)
        else:
            seen.add(el)
    total_chars = sum(map(len, elements))
    return dup_count / len(elements), (dup_chars / total_chars if total_chars else 0.0)


def _ngrams(ids: Sequence[int], n: int) -> list[tuple[int, ...]]:
    return list(zip(*(ids[i:] for i in range(n))))


def top_ngram_char_fraction(words: Sequence[str] | WordIds, n: int) -> float:
    """Characters covered by the most frequent word n-gram (counted per occurrence) over all
    word characters; 0 when no n-gram occurs twice (a single occurrence is not repetition).
    Pass `word_ids(words)` when measuring several n on one text."""
    ids, lengths = words if isinstance(words, WordIds) else word_ids(words)
    grams = _ngrams(ids, n)
    if not grams:
        return 0.0
    counts = Counter(grams)
    gram, count = counts.most_common(1)[0]
    if count < 2:
        return 0.0
    # Ties: most_common keeps first-seen order, so the result is deterministic.
    start = grams.index(gram)
    gram_chars = sum(lengths[start : start + n])
    total = sum(lengths)
    # Overlapping occurrences ("a a a a") can count a word twice; clamp to a fraction.
    return min(1.0, count * gram_chars / total) if total else 0.0


def duplicate_ngram_char_fraction(words: Sequence[str] | WordIds, n: int) -> float:
    """Characters of words inside repeated n-grams (every occurrence after the first) over
    all word characters. Overlapping repeats count each word once, so the value is ≤ 1."""
    ids, lengths = words if isinstance(words, WordIds) else word_ids(words)
    if len(ids) < n:
        return 0.0
    seen: set[tuple[int, ...]] = set()
    covered = [False] * len(ids)
    for start, gram in enumerate(_ngrams(ids, n)):
        if gram in seen:
            covered[start : start + n] = [True] * n
        else:
            seen.add(gram)
    total = sum(lengths)
    dup = sum(length for length, c in zip(lengths, covered) if c)
    return dup / total if total else 0.0


class WordIds(NamedTuple):
    """Lower-cased words as small ints (n-gram tuples of ints hash faster than of str)."""

    ids: list[int]
    lengths: list[int]


def word_ids(words: Sequence[str]) -> WordIds:
    table: dict[str, int] = {}
    ids = [table.setdefault(w.lower(), len(table)) for w in words]
    return WordIds(ids, [len(w) for w in words])
