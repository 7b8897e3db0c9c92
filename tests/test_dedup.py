"""Dedup primitives: URL normalisation table, exact hashes, MinHash accuracy, LSH banding."""

import random
import subprocess
import sys

import numpy as np
import pytest

from pipeline.dedup.config import DedupConfig
from pipeline.dedup.keys import doc_id, normalize_text, normalize_url, text_hash
from pipeline.dedup.minhash import (
    band_keys,
    estimated_jaccard,
    lsh_params,
    minhash_signature,
    shingle_hashes,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "HTTP://WWW.Example.COM:80/a/b/?utm_source=x&b=2&a=1#frag",
            "https://example.com/a/b?a=1&b=2",
        ),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/", "https://example.com/"),
        ("https://example.com:443/x", "https://example.com/x"),
        ("http://example.com:8080/x", "https://example.com:8080/x"),
        ("https://user:pw@example.com/x", "https://example.com/x"),
        ("https://example.com/x?fbclid=1&gclid=2&UTM_medium=3", "https://example.com/x"),
        ("https://example.com/x?q=a+b&page=2", "https://example.com/x?page=2&q=a+b"),
        ("https://example.com/x?empty=", "https://example.com/x?empty="),
        ("https://example.com/Case/Path", "https://example.com/Case/Path"),
        ("https://[::1]:8443/", "https://[::1]:8443/"),
        ("https://example.com./x", "https://example.com/x"),
        ("  https://example.com/x  ", "https://example.com/x"),
    ],
)
def test_normalize_url(url, expected):
    assert normalize_url(url) == expected


def test_doc_id_equal_for_equivalent_urls():
    assert doc_id("http://www.example.com/a/?utm_campaign=z") == doc_id("https://example.com/a")
    assert doc_id("https://example.com/a") != doc_id("https://example.com/b")
    assert len(doc_id("https://example.com/a")) == 32


def test_exact_text_hash_ignores_case_and_whitespace_only():
    assert normalize_text("  Hello\n\n  WORLD\t! ") == "hello world !"
    assert text_hash("Hello world") == text_hash("hello   WORLD\n")
    assert text_hash("Hello world") != text_hash("Hello world.")
    # NFKC: a full-width letter and its ASCII form are the same text
    assert text_hash("ＡBC") == text_hash("abc")


def _words(n, seed):
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(3000)]
    return [rng.choice(vocab) for _ in range(n)]


def _true_jaccard(a, b, n=5):
    sa = {tuple(a[i : i + n]) for i in range(len(a) - n + 1)}
    sb = {tuple(b[i : i + n]) for i in range(len(b) - n + 1)}
    return len(sa & sb) / len(sa | sb)


def _perturbed(words, every):
    out = list(words)
    for i in range(0, len(out), every):
        out[i] = f"changed{i}"
    return out


@pytest.mark.parametrize("every", [10, 20, 60])
def test_minhash_estimate_is_close_to_true_jaccard(every):
    a = _words(1500, seed=1)
    b = _perturbed(a, every)
    true = _true_jaccard(a, b)
    est = estimated_jaccard(
        minhash_signature(" ".join(a), num_perm=512), minhash_signature(" ".join(b), num_perm=512)
    )
    # standard error of the estimator is sqrt(J(1-J)/512) ≤ 0.023; allow 3 sigma
    assert abs(est - true) < 0.07, (true, est)


def test_unrelated_texts_have_near_zero_estimate_and_identical_texts_one():
    a, b = " ".join(_words(800, 1)), " ".join(_words(800, 2))
    assert estimated_jaccard(minhash_signature(a), minhash_signature(b)) < 0.05
    assert estimated_jaccard(minhash_signature(a), minhash_signature(a.upper())) == 1.0


def test_signature_shape_and_short_texts():
    sig = minhash_signature("one two three", num_perm=64)
    assert len(sig) == 64 and all(0 <= v < 2**32 for v in sig)
    assert len(shingle_hashes("one two three", 5)) == 1  # shorter than a shingle: one shingle
    empty = minhash_signature("", num_perm=8)
    assert empty == (2**32 - 1,) * 8


def test_lsh_params_match_the_s_curve_criterion():
    bands, rows = lsh_params(0.8, 128)
    assert bands * rows <= 128
    assert (bands, rows) == (9, 13)  # datasketch's choice for the same threshold and size
    _, lo_r = lsh_params(0.5, 128)
    assert lo_r < rows  # a lower threshold needs fewer rows per band


def _shares_bucket(a, b, cfg: DedupConfig | None = None):
    cfg = cfg or DedupConfig()
    bands, rows = lsh_params(cfg.threshold, cfg.num_perm)
    ka = set(band_keys(minhash_signature(a, num_perm=cfg.num_perm), bands, rows))
    kb = set(band_keys(minhash_signature(b, num_perm=cfg.num_perm), bands, rows))
    return bool(ka & kb)


def test_near_duplicate_pair_at_0_9_is_found_and_pair_at_0_5_is_not():
    a = _words(1200, seed=7)
    close, far = _perturbed(a, 100), _perturbed(a, 15)
    assert 0.85 < _true_jaccard(a, close) < 0.95
    assert 0.45 < _true_jaccard(a, far) < 0.55
    assert _shares_bucket(" ".join(a), " ".join(close))
    assert not _shares_bucket(" ".join(a), " ".join(far))


def test_band_keys_are_distinct_per_band_and_validate_length():
    keys = band_keys(np.zeros(128, dtype=np.uint32), 9, 13)
    assert len(set(keys)) == 9  # same values in every band, different band index
    with pytest.raises(ValueError):
        band_keys([1, 2, 3], 2, 2)


def test_signatures_and_keys_are_identical_in_a_fresh_process():
    """No dependence on PYTHONHASHSEED or process state: workers must agree."""
    text = " ".join(_words(300, seed=3))
    code = (
        "import sys; from pipeline.dedup.keys import *; from pipeline.dedup.minhash import *; t = sys.stdin.read(); "
        "s = minhash_signature(t); print(band_keys(s, 9, 13), text_hash(t), sum(s))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2")
    }
    here = minhash_signature(text)
    assert len(runs) == 1 and str(sum(here)) in runs.pop()
