"""Demonstration choice: RICES returns the nearest examples (most similar last) on a constructed
case and caches embeddings by dataset and model; random draws are seeded per trial and query."""

import os

import eval_support as es
import numpy as np
import pytest
import torch

from train.eval import demos as D
from train.eval import embeddings as E
from train.eval.tasks import Example


def pool(n):
    return [Example(str(i), f"/img/{i}.jpg", references=("x",)) for i in range(n)]


def test_nearest_orders_the_most_similar_last():
    # cosine similarity to the query [1, 0]: 1.0, 0.994, 0.707, 0.0, -1.0 (scale does not matter)
    pool_emb = np.array([[3.0, 0.0], [0.9, 0.1], [0.7, 0.7], [0.0, 2.0], [-1.0, 0.0]])
    assert D.nearest(np.array([[1.0, 0.0]]), pool_emb, 3).tolist() == [[2, 1, 0]]
    assert D.nearest(np.array([[-1.0, 0.0], [0.0, 1.0]]), pool_emb, 1).tolist() == [[4], [3]]


def test_rices_picks_the_constructed_neighbours_and_never_the_query_itself():
    examples = pool(6)
    emb = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.95, 0.05], [0, 0, 1], [0.5, 0.5, 0]], float)
    q = examples[1]  # a query that is also in the pool (its own image must not be a demonstration)
    got = D.rices_demos(examples, emb, q, emb[1], 2)
    assert [e.key for e in got] == ["5", "0"]  # 0 is nearest (most similar last), then 5
    other = Example("q", "/img/q.jpg")
    assert [e.key for e in D.rices_demos(examples, emb, other, np.array([0, 1.0, 0.02]), 2)] == ["3", "2"]


def test_random_demos_are_seeded_per_trial_and_query():
    p = pool(50)
    q = Example("q7", "/img/q7.jpg")
    a = D.random_demos(p, q, 4, seed=42)
    assert a == D.random_demos(p, q, 4, seed=42)
    assert a != D.random_demos(p, q, 4, seed=43)
    assert a != D.random_demos(p, Example("q8", "/img/q8.jpg"), 4, seed=42)
    assert len({e.key for e in a}) == 4
    assert all(e.image != "/img/3.jpg" for _ in range(20) for e in D.random_demos(p, p[3], 10, seed=_))
    with pytest.raises(ValueError):
        D.random_demos(pool(3), q, 4, seed=0)


def test_trial_pool_is_a_seeded_subset():
    p = pool(100)
    assert D.trial_pool(p, 0, 1) == p and D.trial_pool(p, 200, 1) == p
    a = D.trial_pool(p, 10, 1)
    assert len(a) == 10 and a == D.trial_pool(p, 10, 1) and a != D.trial_pool(p, 10, 2)


def test_embedding_cache_by_dataset_and_model(tmp_path):
    imgs = [es.image(tmp_path / f"{i}.jpg", c, i) for i, c in enumerate(["red", "blue", "red"])]
    examples = [Example(str(i), str(p)) for i, p in enumerate(imgs)]
    calls = []

    def compute():
        calls.append(1)
        return np.arange(6, dtype=np.float32).reshape(3, 2)

    kw = dict(cache_dir=str(tmp_path / "cache"), compute=compute)
    first = E.cached_embeddings(examples, model_key="m1", **kw)
    again = E.cached_embeddings(examples, model_key="m1", **kw)
    assert len(calls) == 1 and np.array_equal(first, again)
    E.cached_embeddings(examples, model_key="m2", **kw)  # another model: computed again
    assert len(calls) == 2
    os.utime(imgs[1], ns=(1, 1))  # a changed image file: its dataset id changes
    E.cached_embeddings(examples, model_key="m1", **kw)
    assert len(calls) == 3


def test_model_id_follows_the_weights():
    tower = torch.nn.Linear(2, 2)
    a = E.model_id(tower, {"name": "t"})
    assert a == E.model_id(tower, {"name": "t"}) and a != E.model_id(tower, {"name": "u"})
    with torch.no_grad():
        tower.weight[0, 0] += 1
    assert a != E.model_id(tower, {"name": "t"})
