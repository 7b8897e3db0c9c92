"""Benchmark: our extraction vs trafilatura on both public sets, in one process, interleaved.

``article-extraction`` is scored with its shingle F1, ``web-snippets`` with its must / must-not
snippets (accuracy, with-rate, without-rate; by language: German, English, other, detected
from the snippets with py3langid). Each set is reported per split (tune / held_out, fixed in
bench/extraction_sets.py) and whole. Both extractors run page by page, interleaved, so machine
load hits both alike; trafilatura runs with its defaults (``trafilatura.extract(html, url=url)``).
Run from the repo root: ``python bench/extraction.py [--rounds N] [--set NAME] [--worst N]``.
Exits 0 with "skipped" when the data is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import extraction_sets as sets

SPLITS = ("tune", "held_out", "all")


def run_both(pages: list[sets.Page], baseline: bool) -> tuple[list, list, list, list]:
    """((doc, reason) per page, trafilatura text per page, our [wall, CPU] seconds,
    trafilatura's). CPU time (this process's) is the steadier figure when other jobs load
    the machine; the interleaving makes the wall-clock ratio fair as well."""
    import trafilatura

    from pipeline.extract import extract_with_reason

    ours, traf, t_ours, t_traf = [], [], [0.0, 0.0], [0.0, 0.0]
    wall, cpu = time.perf_counter, time.process_time
    for page in pages:
        w0, c0 = wall(), cpu()
        ours.append(extract_with_reason(page.html, page.url))
        w1, c1 = wall(), cpu()
        traf.append(trafilatura.extract(page.html, url=page.url) if baseline else None)
        w2, c2 = wall(), cpu()
        t_ours[0], t_ours[1] = t_ours[0] + w1 - w0, t_ours[1] + c1 - c0
        t_traf[0], t_traf[1] = t_traf[0] + w2 - w1, t_traf[1] + c2 - c1
    return ours, traf, t_ours, t_traf


def _in(split: str, page: sets.Page) -> bool:
    return split == "all" or page.split == split


def _report_articles(pages, texts: dict[str, list]) -> None:
    print(f"{'extractor':<12} {'split':<9} {'pages':>5} {'F1':>6} {'prec':>6} {'recall':>6}")
    for name, preds in texts.items():
        for split in SPLITS:
            idx = [i for i, p in enumerate(pages) if _in(split, p)]
            f1, p, r = sets.f1_score([pages[i].truth for i in idx], [preds[i] or "" for i in idx])
            print(f"{name:<12} {split:<9} {len(idx):>5} {f1:6.4f} {p:6.4f} {r:6.4f}")


def _snippet_row(name: str, label: str, pages, preds, idx: list[int]) -> None:
    s = sets.snippet_score([pages[i] for i in idx], [preds[i] for i in idx])
    print(f"{name:<12} {label:<9} {s.pages:>5} {s.accuracy:8.4f} {s.with_rate:6.4f} "
          f"{s.without_rate:8.4f}")


def _report_snippets(pages, texts: dict[str, list]) -> None:
    print(f"{'extractor':<12} {'part':<9} {'pages':>5} {'accuracy':>8} {'with':>6} {'without':>8}")
    for name, preds in texts.items():
        for split in SPLITS:
            idx = [i for i, p in enumerate(pages) if _in(split, p)]
            _snippet_row(name, split, pages, preds, idx)
    print("by language (all pages; detected from the snippets with py3langid):")
    for name, preds in texts.items():
        for lang in ("de", "en", "other"):
            idx = [i for i, p in enumerate(pages) if p.lang == lang]
            _snippet_row(name, lang, pages, preds, idx)


def _report_docs(results: list) -> None:
    docs = [d for d, _ in results]
    n_img = [len(d.images) if d else 0 for d in docs]
    print(f"image nodes kept per page: mean {sum(n_img) / len(n_img):.2f}, pages with >=1: "
          f"{sum(1 for n in n_img if n)}/{len(n_img)}")
    methods = Counter(d.method if d else f"none:{r}" for d, r in results)
    print("documents by method: " + ", ".join(f"{k} {v}" for k, v in sorted(methods.items())))


def _page_score(set_name: str, page: sets.Page, text: str | None) -> float:
    if set_name == "article-extraction":
        return sets.f1_score([page.truth], [text or ""])[0]
    return sets.page_accuracy(page, text)


def _worst(set_name: str, pages, ours: list, traf: list, n: int) -> None:
    """The n tune pages where we trail trafilatura most (held-out pages are never listed)."""
    rows = []
    for page, (doc, reason), t in zip(pages, ours, traf):
        if page.split == "tune":
            o = _page_score(set_name, page, doc.text if doc else None)
            rows.append((o - _page_score(set_name, page, t), o, page.id, reason or "", page.url))
    print(f"worst {n} tune pages (ours - trafilatura, ours, id, reason, url):")
    for delta, o, pid, reason, url in sorted(rows)[:n]:
        print(f"  {delta:+.3f} {o:.3f} {pid} {reason} {url}")


def bench_set(name: str, pages: list, args) -> dict:
    baseline = not args.no_baseline
    run_both(pages[:5], baseline)  # warm imports and caches for both before timing
    tune = sum(p.split == "tune" for p in pages)
    print(f"\n== {name}: {len(pages)} pages (tune {tune}, held_out {len(pages) - tune})")
    for rnd in range(1, args.rounds + 1):
        results, traf, t_ours, t_traf = run_both(pages, baseline)
        if rnd == 1:
            first = results, traf
        n = len(pages)
        line = f"round {rnd}: pages/s ours {n / t_ours[0]:.1f}"
        if baseline:
            line += (f", trafilatura {n / t_traf[0]:.1f}, ratio {t_traf[0] / t_ours[0]:.2f}x"
                     f" | CPU ms/page ours {1000 * t_ours[1] / n:.2f}, trafilatura "
                     f"{1000 * t_traf[1] / n:.2f}, ratio {t_traf[1] / t_ours[1]:.2f}x")
        print(line)
    results, traf = first
    texts = {"ours": [d.text if d else None for d, _ in results]}
    if baseline:
        texts["trafilatura"] = traf
    (_report_articles if name == "article-extraction" else _report_snippets)(pages, texts)
    _report_docs(results)
    if args.worst and baseline:
        _worst(name, pages, results, traf, args.worst)
    return {p.id: {"split": p.split, "ours": _page_score(name, p, texts["ours"][i]),
                   "images": len(results[i][0].images) if results[i][0] else 0,
                   "reason": results[i][1]}
            for i, p in enumerate(pages) if name == "article-extraction" or p.split == "tune"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=("both", "article-extraction", "web-snippets"), default="both")
    ap.add_argument("--rounds", type=int, default=1, help="timed passes (quality from the first)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N pages of each set")
    ap.add_argument("--no-baseline", action="store_true", help="skip trafilatura")
    ap.add_argument("--worst", type=int, default=0,
                    help="list the N tune pages trailing trafilatura most")
    ap.add_argument("--per-page", type=Path,
                    help="write per-page scores (held-out web-snippets pages left out)")
    args = ap.parse_args(argv)
    loaders = {"article-extraction": (sets.ARTICLES / "ground-truth.json", sets.load_articles),
               "web-snippets": (sets.SNIPPETS / "snippets.json", sets.load_snippets)}
    per_page = {}
    for name, (marker, load) in loaders.items():
        if args.set not in ("both", name):
            continue
        if not marker.exists():
            print(f"skipped {name}: benchmark data not found at {marker.parent}")
            continue
        pages = load()[: args.limit or None]
        per_page[name] = bench_set(name, pages, args)
    if args.per_page:
        args.per_page.write_text(json.dumps(per_page, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
