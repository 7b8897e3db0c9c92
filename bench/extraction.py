"""Benchmark: our extraction vs trafilatura on the Scrapinghub article set, one run.

Scores each extractor's text against the hand-made article bodies with the
set's established metric (4-token shingles, per-page normalised counts; see
../shared/data/README.md) and times both on the same pages in this process.
Run from the repo root: ``python bench/extraction.py [--limit N] [--images]``.
Exits 0 with "skipped" when the data is absent.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "article-extraction"
_WORD = re.compile(r"\w+")


def shingles(text: str, n: int = 4) -> Counter:
    toks = _WORD.findall(text or "")
    return Counter(tuple(toks[i : i + n]) for i in range(max(0, len(toks) - n + 1)))


def page_counts(truth: str, pred: str) -> tuple[float, float, float]:
    """tp, fp, fn over shingle counts, normalised by their sum (long pages weigh no more)."""
    t, p = shingles(truth), shingles(pred)
    tp = sum((t & p).values())
    fp, fn = sum(p.values()) - tp, sum(t.values()) - tp
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def score(truths: list[str], preds: list[str]) -> tuple[float, float, float]:
    precisions, recalls = [], []
    for truth, pred in zip(truths, preds):
        tp, fp, fn = page_counts(truth, pred)
        if fp == 0 and fn == 0:
            precisions.append(1.0)
            recalls.append(1.0)
            continue
        if tp + fp > 0:
            precisions.append(tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    return (2 * p * r / (p + r) if p + r else 0.0), p, r


def load() -> tuple[list[str], list[bytes], list[str], list[str]]:
    truth = json.loads((DATA / "ground-truth.json").read_text())
    ids = sorted(truth)
    pages = [gzip.decompress((DATA / "html" / f"{i}.html.gz").read_bytes()) for i in ids]
    return ids, pages, [truth[i]["url"] for i in ids], [truth[i]["articleBody"] for i in ids]


def run_both(pages: list[bytes], urls: list[str], baseline: bool) -> tuple[list, list, float, float]:
    """Both extractors page by page, interleaved, so machine load hits both alike."""
    import trafilatura

    from pipeline.extract import extract_document

    docs, traf, t_ours, t_traf = [], [], 0.0, 0.0
    for page, url in zip(pages, urls):
        t0 = time.perf_counter()
        docs.append(extract_document(page, url))
        t1 = time.perf_counter()
        traf.append((trafilatura.extract(page, url=url) or "") if baseline else "")
        t_ours, t_traf = t_ours + t1 - t0, t_traf + time.perf_counter() - t1
    return docs, traf, t_ours, t_traf


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="only the first N pages")
    ap.add_argument("--no-baseline", action="store_true", help="skip trafilatura")
    ap.add_argument("--worst", type=int, default=0, help="print the N worst pages by F1")
    args = ap.parse_args(argv)
    if not (DATA / "ground-truth.json").exists():
        print(f"skipped: benchmark data not found at {DATA}")
        return 0
    ids, pages, urls, truths = load()
    if args.limit:
        ids, pages, urls, truths = ids[: args.limit], pages[: args.limit], urls[: args.limit], truths[: args.limit]
    baseline = not args.no_baseline
    run_both(pages[:5], urls[:5], baseline)  # warm imports and caches for both before timing
    docs, traf, t_ours, t_traf = run_both(pages, urls, baseline)
    ours = [d.text if d else "" for d in docs]
    rows = [("ours", *score(truths, ours), len(pages) / t_ours)]
    if baseline:
        rows.append(("trafilatura", *score(truths, traf), len(pages) / t_traf))
    print(f"{len(pages)} pages")
    print(f"{'extractor':<12} {'F1':>6} {'prec':>6} {'recall':>6} {'pages/s':>8}")
    for name, f1, p, r, pps in rows:
        print(f"{name:<12} {f1:6.3f} {p:6.3f} {r:6.3f} {pps:8.1f}")
    if len(rows) == 2:
        print(f"speed ratio ours/trafilatura: {rows[0][4] / rows[1][4]:.2f}x")
    n_img = [len(d.images) if d else 0 for d in docs]
    print(f"image nodes kept per page: mean {sum(n_img) / len(n_img):.2f}, "
          f"pages with >=1: {sum(1 for n in n_img if n)}/{len(n_img)}, none extracted: "
          f"{sum(1 for d in docs if d is None)} pages")
    if args.worst:
        per = sorted((score([t], [o])[0], i) for i, t, o in zip(ids, truths, ours))
        for f1, i in per[: args.worst]:
            print(f"  {f1:.3f} {i}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
