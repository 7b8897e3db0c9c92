"""A trial's predictions -> its metric, and a score per prediction for inspection.

Metrics are reported on the papers' scale (x100): CIDEr (pycocoevalcap's value x100, e.g. 79.4),
VQA accuracy in percent, top-1 accuracy in percent, ROC-AUC x100.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from train.eval.metrics.cider import cider_d
from train.eval.metrics.ptb import tokenize
from train.eval.metrics.ranking import roc_auc
from train.eval.metrics.vqa import vqa_accuracy
from train.eval.tasks import CAPTIONING, VQA

METRICS = {CAPTIONING: "CIDEr", VQA: "VQA accuracy", "imagenet": "top-1 accuracy", "hateful_memes": "ROC-AUC"}


def metric_name(task: str, kind: str) -> str:
    return METRICS.get(task, METRICS.get(kind, "top-1 accuracy"))


def score_captions(rows: Sequence[dict], backend: str) -> tuple[float, list[float], str]:
    """(CIDEr x100, per-image CIDEr x100, the tokenizer that ran) for rows with prediction and references."""
    flat = [r["prediction"] for r in rows] + [ref for r in rows for ref in r["references"]]
    tokens, used = tokenize(flat, backend)
    cands = {i: tokens[i] for i in range(len(rows))}
    refs, at = {}, len(rows)
    for i, r in enumerate(rows):
        refs[i] = tokens[at:at + len(r["references"])]
        at += len(r["references"])
    value, per = cider_d(cands, refs)
    return 100 * value, [100 * per[i] for i in range(len(rows))], used


def score_rows(task: str, kind: str, rows: Sequence[dict], backend: str = "auto") -> tuple[float, list[float], dict]:
    """(metric, per-row scores, extra facts) of one trial."""
    if kind == CAPTIONING:
        value, per, used = score_captions(rows, backend)
        return value, per, {"tokenizer": used}
    if kind == VQA:
        per = [100 * vqa_accuracy(r["prediction"], r["answers"]) for r in rows]
        return sum(per) / len(per), per, {}
    per = [100.0 * (r["prediction"] == r["label"]) for r in rows]
    if task == "hateful_memes":
        probs = [_p_yes(r["scores"]) for r in rows]
        auc = 100 * roc_auc([int(r["label"] == "yes") for r in rows], probs)
        return auc, per, {"accuracy": sum(per) / len(per)}
    top5 = [100.0 * (r["label"] in sorted(r["scores"], key=r["scores"].get, reverse=True)[:5]) for r in rows]
    return sum(per) / len(per), per, {"top-5 accuracy": sum(top5) / len(top5)}


def _p_yes(scores: dict[str, float]) -> float:
    """P(yes) from the two answers' log-likelihoods, normalised over the two."""
    m = max(scores.values())
    e = {k: math.exp(v - m) for k, v in scores.items()}
    return e["yes"] / sum(e.values())
