"""Benchmark: text filters and MinHash signatures on real article text; ours vs datasketch.

Input: the hand-made article bodies of ../shared/data/article-extraction (181 real news and
blog pages), i.e. the text the filters see after extraction. Reports
* TextFilter.check throughput (docs/s) and the reasons it gives on these real pages,
* MinHash signature throughput, ours (numpy, multiply-add-shift) beside datasketch's
  ``MinHash.update_batch`` on the same word 5-gram shingles, interleaved doc by doc, with the
  speed ratio and how far the two Jaccard estimates are from the exact value on
  (page, edited page) pairs.
Run from the repo root: ``python bench/text_stages.py [--repeat N]``. Prints "skipped" and
exits 0 without the data; runs ours only when datasketch (the ``bench`` extra) is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "article-extraction"
sys.path.insert(0, str(ROOT))  # this checkout's packages, not another installed copy


def edited(text: str, every: int) -> str:
    return " ".join(f"edit{i}" if i % every == 0 else w for i, w in enumerate(text.split()))


def exact_jaccard(a: str, b: str, n: int = 5) -> float:
    from pipeline.dedup.keys import normalize_text

    def grams(t):
        w = normalize_text(t).split()
        return {tuple(w[i : i + n]) for i in range(max(1, len(w) - n + 1))}

    sa, sb = grams(a), grams(b)
    return len(sa & sb) / len(sa | sb)


def datasketch_signature(text: str, num_perm: int):
    from datasketch import MinHash

    from pipeline.dedup.keys import normalize_text

    w = normalize_text(text).split()
    shingles = {" ".join(w[i : i + 5]).encode() for i in range(max(1, len(w) - 4))}
    m = MinHash(num_perm=num_perm, seed=1)
    m.update_batch(list(shingles))
    return m


def bench_filters(texts: list[str], repeat: int) -> None:
    from pipeline.filter.rules import Filter, Subject
    from pipeline.filter.text import TextFilterConfig

    tf = Filter("text", TextFilterConfig())
    reasons = Counter(tf.check(Subject(t)).reason for t in texts)
    start = time.perf_counter()
    for _ in range(repeat):
        for t in texts:
            tf.check(Subject(t))
    secs = time.perf_counter() - start
    words = sum(len(t.split()) for t in texts) / len(texts)
    print(
        f"Filter(\"text\").check: {repeat * len(texts) / secs:,.0f} docs/s (mean {words:.0f} words/doc)"
    )
    print(f"  reasons on {len(texts)} real article bodies: {dict(reasons.most_common())}")


def bench_minhash(texts: list[str], repeat: int, num_perm: int = 128) -> None:
    from pipeline.dedup.minhash import estimated_jaccard, minhash_signature

    try:
        import datasketch
    except ImportError:
        datasketch = None
    ours = theirs = 0.0
    for _ in range(repeat):
        for t in texts:  # interleaved so machine load hits both alike
            s = time.perf_counter()
            minhash_signature(t, num_perm=num_perm)
            ours += time.perf_counter() - s
            if datasketch:
                s = time.perf_counter()
                datasketch_signature(t, num_perm)
                theirs += time.perf_counter() - s
    n = repeat * len(texts)
    print(f"MinHash ({num_perm} perm, word 5-grams): ours {n / ours:,.0f} docs/s", end="")
    if datasketch:
        print(f", datasketch {n / theirs:,.0f} docs/s, ratio ours/datasketch {theirs / ours:.1f}x")
    else:
        print(" (datasketch not installed: no baseline)")
    for every in (10, 30, 100):
        errs_ours, errs_ds = [], []
        for t in texts:
            e = edited(t, every)
            true = exact_jaccard(t, e)
            errs_ours.append(
                abs(estimated_jaccard(minhash_signature(t), minhash_signature(e)) - true)
            )
            if datasketch:
                errs_ds.append(
                    abs(
                        datasketch_signature(t, num_perm).jaccard(datasketch_signature(e, num_perm))
                        - true
                    )
                )
        line = f"  edit every {every}th word: mean |estimate - exact| ours {sum(errs_ours) / len(texts):.4f}"
        print(line + (f", datasketch {sum(errs_ds) / len(texts):.4f}" if errs_ds else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    truth = DATA / "ground-truth.json"
    if not truth.exists():
        print(f"skipped: {truth} not found")
        return 0
    bodies = json.loads(truth.read_text())
    texts = [bodies[k]["articleBody"] for k in sorted(bodies) if bodies[k]["articleBody"].strip()]
    bench_filters(texts, args.repeat)
    bench_minhash(texts, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
