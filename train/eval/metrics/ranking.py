"""Classification metrics: top-k accuracy over ranked class names, and ROC-AUC (HatefulMemes).

ROC-AUC is computed as the Mann-Whitney statistic: the probability that a random positive
scores above a random negative, ties counting one half. That equals the area under the ROC
curve traced with every distinct score as a threshold (scikit-learn's ``roc_auc_score``), and
is computed here from ranks in O(n log n).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve of binary ``labels`` (0/1) ranked by ``scores``."""
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError("labels and scores must be 1-d and of one length")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    pos, neg = int(y.sum()), int((1 - y).sum())
    if pos == 0 or neg == 0:
        raise ValueError("ROC-AUC needs both positive and negative examples")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # average 1-based rank within each run of tied scores
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    ends = np.r_[starts[1:], len(s)]
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = (a + 1 + b) / 2.0
    u = ranks[y == 1].sum() - pos * (pos + 1) / 2.0
    return float(u / (pos * neg))


def top_k_correct(ranked: Sequence[str], truth: str, k: int) -> bool:
    """Whether ``truth`` is among the first ``k`` of the class names ranked best first."""
    return truth in list(ranked)[:k]
