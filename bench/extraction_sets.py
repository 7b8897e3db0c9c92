"""The two extraction benchmark sets, their fixed tune/held-out split, and their metrics.

``article-extraction`` (181 news/blog pages, hand-made article bodies) is scored with its
established shingle F1; ``web-snippets`` (690 pages of many kinds) with snippets that must and
must not appear in the text. Both live in ../shared/data/ (see its README) and are read in
place, never copied.

The split is fixed here, before any tuning, so it cannot drift with the results: pages sorted
by id, every fifth one (positions 4, 9, 14, ...) is held out. Tuning looks at the tune part's
pages; of the held-out part only aggregate figures are read.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
ARTICLES = DATA / "article-extraction"
SNIPPETS = DATA / "web-snippets"
HELD_OUT_EVERY = 5
_WORD = re.compile(r"\w+")


@dataclass
class Page:
    id: str
    url: str
    html: bytes
    split: str  # "tune" or "held_out"
    truth: str = ""  # article-extraction: the hand-made article body
    with_: tuple[str, ...] = ()  # web-snippets: passages that must appear
    without: tuple[str, ...] = ()  # web-snippets: passages that must not appear
    lang: str = ""  # web-snippets: "de", "en" or "other", from the snippets (py3langid)


def split_of(position: int) -> str:
    """The split of the page at ``position`` in id order: every fifth is held out."""
    return "held_out" if position % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 else "tune"


def _html(folder: Path, page_id: str) -> bytes:
    return gzip.decompress((folder / "html" / f"{page_id}.html.gz").read_bytes())


def load_articles() -> list[Page]:
    truth = json.loads((ARTICLES / "ground-truth.json").read_text())
    return [
        Page(
            id=i,
            url=truth[i]["url"],
            html=_html(ARTICLES, i),
            split=split_of(n),
            truth=truth[i]["articleBody"],
        )
        for n, i in enumerate(sorted(truth))
    ]


def snippet_language(with_: list[str], without: list[str]) -> str:
    """ "de", "en" or "other", by py3langid on the must-appear snippets (the article's own
    sentences; the must-not ones when there are none). Page ``lang`` attributes are missing
    or wrong on too many pages to trust."""
    import py3langid

    lang = py3langid.classify(" ".join(with_) or " ".join(without))[0]
    return lang if lang in ("de", "en") else "other"


def load_snippets() -> list[Page]:
    data = json.loads((SNIPPETS / "snippets.json").read_text())
    return [
        Page(
            id=i,
            url=data[i]["url"],
            html=_html(SNIPPETS, i),
            split=split_of(n),
            with_=tuple(data[i]["with"]),
            without=tuple(data[i]["without"]),
            lang=snippet_language(data[i]["with"], data[i]["without"]),
        )
        for n, i in enumerate(sorted(data))
    ]


# --- article-extraction: 4-token shingles, per-page normalised counts -------------------------


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


def f1_score(truths: list[str], preds: list[str]) -> tuple[float, float, float]:
    """(F1, precision, recall): mean per-page precision and recall, F1 of the two means."""
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


# --- web-snippets: must / must-not substrings after whitespace normalisation ------------------


def _norm(s: str) -> str:
    return " ".join(s.split())


def snippet_points(page: Page, text: str | None) -> tuple[int, int]:
    """(with snippets found, without snippets absent) for one page's extracted text.
    Nothing extracted (None or "") keeps every "without" point and loses every "with" one."""
    text = _norm(text or "")
    found = sum(1 for s in page.with_ if text and _norm(s) in text)
    absent = sum(1 for s in page.without if not text or _norm(s) not in text)
    return found, absent


@dataclass
class SnippetScore:
    accuracy: float
    with_rate: float
    without_rate: float
    pages: int


def snippet_score(pages: list[Page], texts: list[str | None]) -> SnippetScore:
    found = absent = n_with = n_without = 0
    for page, text in zip(pages, texts):
        f, a = snippet_points(page, text)
        found, absent = found + f, absent + a
        n_with, n_without = n_with + len(page.with_), n_without + len(page.without)
    total = n_with + n_without
    return SnippetScore(
        accuracy=(found + absent) / total if total else 0.0,
        with_rate=found / n_with if n_with else 0.0,
        without_rate=absent / n_without if n_without else 0.0,
        pages=len(pages),
    )


def page_accuracy(page: Page, text: str | None) -> float:
    f, a = snippet_points(page, text)
    total = len(page.with_) + len(page.without)
    return (f + a) / total if total else 1.0
