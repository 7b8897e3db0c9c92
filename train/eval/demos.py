"""Which demonstrations a query gets: seeded random draws, or RICES retrieval.

Random (the paper's protocol): per trial, a pool of at most ``pool_size`` training examples is
drawn with the trial's seed (OpenFlamingo's ``query_set_size``, 2048), then each query draws its
``k`` demonstrations from that pool with a generator seeded by (trial seed, query key), so a
query's demonstrations do not depend on batching or on how many processes share the queries.

RICES (Yang et al., 2022; Flamingo's "retrieval-based in-context example selection"): the ``k``
pool examples whose pooled vision-tower embeddings have the highest cosine similarity with the
query's, ordered with the most similar last (nearest the query), as OpenFlamingo orders them.
Embeddings are computed once per (dataset, model) and cached on disk (``embeddings``).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

import numpy as np

from train.eval.tasks import Example


def trial_pool(pool: Sequence[Example], size: int, seed: int) -> list[Example]:
    """The trial's demonstration pool: all of ``pool`` when it is small enough, else a seeded sample."""
    items = list(pool)
    if size <= 0 or len(items) <= size:
        return items
    return random.Random(f"pool/{seed}").sample(items, size)


def query_rng(seed: int, key: str) -> random.Random:
    """A generator for one query in one trial, independent of every other query's."""
    digest = hashlib.sha256(f"{seed}/{key}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


def random_demos(pool: Sequence[Example], query: Example, k: int, seed: int) -> list[Example]:
    """``k`` distinct demonstrations for ``query``, never the query's own image."""
    candidates = [e for e in pool if e.image != query.image] if k else []
    if len(candidates) < k:
        raise ValueError(f"{k} demonstrations asked for, the pool has {len(candidates)}")
    return query_rng(seed, query.key).sample(candidates, k)


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


def nearest(query_emb: np.ndarray, pool_emb: np.ndarray, k: int) -> np.ndarray:
    """(Q, E), (P, E) -> (Q, k) pool indices by cosine similarity, the most similar *last*.

    Ties go to the lower pool index (a stable sort), so the order is deterministic.
    """
    sims = normalise(query_emb.astype(np.float64)) @ normalise(pool_emb.astype(np.float64)).T  # (Q, P)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]  # best first
    return order[:, ::-1]


def rices_demos(pool: Sequence[Example], pool_emb: np.ndarray, query: Example, query_emb: np.ndarray,
                k: int) -> list[Example]:
    """The ``k`` most similar pool examples to ``query`` (its own image excluded), most similar last."""
    if k == 0:
        return []
    same = [i for i, e in enumerate(pool) if e.image == query.image]
    idx = nearest(query_emb[None], pool_emb, k + len(same))[0]
    chosen = [int(i) for i in idx if int(i) not in same]
    return [pool[i] for i in chosen[-k:]]
