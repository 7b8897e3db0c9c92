"""CIDEr-D (Vedantam et al., 2015) with the arithmetic of the COCO caption evaluation.

This is the score ``pycocoevalcap.cider.Cider`` returns and papers report as "CIDEr": n-grams
1..4 weighted by tf-idf, where the document frequency counts the images whose references hold
an n-gram and the corpus is the evaluated set's own references (idf = log(#images) - log(df),
df at least 1); for each reference, the cosine of clipped candidate weights (min(cand, ref)) and
the reference's, times a Gaussian length penalty exp(-(len_c - len_r)^2 / (2 sigma^2)) with
sigma 6 (lengths in unigrams); the mean over n of those, averaged over the references, times 10.

Inputs are already tokenised (``metrics.ptb``): tokens are whatever ``str.split`` gives. The
corpus score is the mean of the per-image scores.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

Ngrams = Counter  # n-gram tuple -> count

N = 4
SIGMA = 6.0


def ngram_counts(sentence: str, n: int = N) -> Ngrams:
    """All 1..n-grams of a whitespace-tokenised sentence with their counts."""
    words = sentence.split()
    return Counter(tuple(words[i:i + k]) for k in range(1, n + 1) for i in range(len(words) - k + 1))


def document_frequency(refs: Sequence[Sequence[Ngrams]]) -> Counter:
    """For each n-gram, the number of images whose references hold it at least once."""
    df: Counter = Counter()
    for image_refs in refs:
        df.update(set().union(*image_refs) if image_refs else set())
    return df


def _tfidf(counts: Ngrams, df: Counter, log_images: float, n: int) -> tuple[list[dict], list[float], int]:
    """Weights per n-gram order, their norms, and the sentence length (its unigram count)."""
    vec: list[dict] = [{} for _ in range(n)]
    for gram, tf in counts.items():
        vec[len(gram) - 1][gram] = tf * (log_images - math.log(max(1.0, df[gram])))
    norms = [math.sqrt(sum(w * w for w in v.values())) for v in vec]
    length = sum(c for g, c in counts.items() if len(g) == 1)
    return vec, norms, length


def _similarity(cand: tuple, ref: tuple, n: int, sigma: float) -> list[float]:
    (vc, nc, lc), (vr, nr, lr) = cand, ref
    penalty = math.exp(-((lc - lr) ** 2) / (2 * sigma**2))
    out = []
    for k in range(n):
        dot = sum(min(w, vr[k].get(g, 0.0)) * vr[k].get(g, 0.0) for g, w in vc[k].items())
        if nc[k] != 0 and nr[k] != 0:
            dot /= nc[k] * nr[k]
        out.append(dot * penalty)
    return out


def cider_d(
    candidates: Mapping[object, str], references: Mapping[object, Sequence[str]], *, n: int = N,
    sigma: float = SIGMA,
) -> tuple[float, dict[object, float]]:
    """(corpus CIDEr-D, per-image scores) for tokenised candidates and references by image key.

    Scores are on the usual scale of the COCO evaluation (x10; papers print them x100 again,
    e.g. "CIDEr 79.4" is 0.794 here); :func:`cider_d` returns the raw x10 values, and results
    files report ``100 * score`` as the papers do.
    """
    if set(candidates) != set(references):
        raise ValueError("candidates and references must cover the same images")
    if not candidates:
        raise ValueError("no captions to score")
    keys = list(candidates)
    refs = [[ngram_counts(r, n) for r in references[k]] for k in keys]
    if any(not r for r in refs):
        raise ValueError("every image needs at least one reference")
    df = document_frequency(refs)
    log_images = math.log(float(len(keys)))
    scores = {}
    for key, image_refs in zip(keys, refs):
        cand = _tfidf(ngram_counts(candidates[key], n), df, log_images, n)
        total = [0.0] * n
        for r in image_refs:
            sim = _similarity(cand, _tfidf(r, df, log_images, n), n, sigma)
            total = [a + b for a, b in zip(total, sim)]
        scores[key] = sum(total) / n / len(image_refs) * 10.0
    return sum(scores.values()) / len(scores), scores
