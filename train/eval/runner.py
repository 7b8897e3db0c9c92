"""One evaluation: for every shot count and trial, every query's prompt through the model, scored.

Order of work: choose the queries (all, or a seeded sample) -> RICES embeddings if asked (cached)
-> for each shot count k and trial t (seed = seed + t): the trial's demonstration pool, then this
process's share of the queries (query i goes to rank i mod world size) in batches, each query
with its k demonstrations (two text-only ones at k = 0) -> all ranks' predictions gathered in
query order -> rank 0 scores them and writes them. A query's demonstrations depend only on the
seed and the query, not on the number of processes or the batch size; with the same batch size,
N processes give the one-process predictions (batches of other sizes pad prompts differently,
which can move floating-point results in the last bits).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.distributed as dist

from flamingo.typedconfig import UsageError, to_dict
from train.eval import demos as D
from train.eval import embeddings as E
from train.eval import predict as P
from train.eval.config import EvalConfig
from train.eval.prompts import ZERO_SHOT_TEXT_DEMOS, build_prompt, template_for
from train.eval.results import predictions_path, summarise, write_predictions
from train.eval.scoring import metric_name, score_rows
from train.eval.tasks import CAPTIONING, TASKS, VQA, Example, TaskData

log = logging.getLogger(__name__)


def select_queries(queries: Sequence[Example], max_queries: int, seed: int) -> list[Example]:
    """All queries, or a seeded sample of ``max_queries`` kept in file order."""
    if not max_queries or len(queries) <= max_queries:
        return list(queries)
    keep = sorted(random.Random(f"queries/{seed}").sample(range(len(queries)), max_queries))
    return [queries[i] for i in keep]


def gather_rows(rows: list[dict], device: torch.device) -> list[dict]:
    """Every rank's rows on every rank, as JSON bytes in tensors (no pickling), sorted by index."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return sorted(rows, key=lambda r: r["index"])
    dev = device if dist.get_backend() == "nccl" else torch.device("cpu")
    data = torch.frombuffer(bytearray(json.dumps(rows).encode()), dtype=torch.uint8).to(dev)
    sizes = [torch.zeros(1, dtype=torch.long, device=dev) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, torch.tensor([data.numel()], device=dev))
    width = int(max(s.item() for s in sizes))
    buf = [torch.zeros(width, dtype=torch.uint8, device=dev) for _ in sizes]
    dist.all_gather(buf, torch.nn.functional.pad(data, (0, width - data.numel())))
    out = [r for b, s in zip(buf, sizes) for r in json.loads(bytes(b[: int(s.item())].cpu().tolist()))]
    return sorted(out, key=lambda r: r["index"])


class Retriever:
    """Demonstrations for a query: random from the trial's pool, or RICES from the whole pool."""

    def __init__(self, cfg: EvalConfig, em: P.EvalModel, data: TaskData, queries: list[Example]):
        self.cfg, self.pool = cfg, data.pool
        self.query_emb: dict[str, np.ndarray] = {}
        if cfg.demos == "rices":
            self.pool_emb = _embeddings(cfg, em, data.pool)
            q = _embeddings(cfg, em, queries)
            self.query_emb = {e.key: q[i] for i, e in enumerate(queries)}

    def demos(self, query: Example, k: int, pool: list[Example], seed: int) -> list[Example]:
        if self.cfg.demos == "rices":
            return D.rices_demos(self.pool, self.pool_emb, query, self.query_emb[query.key], k)
        return D.random_demos(pool, query, k, seed)


def _embeddings(cfg: EvalConfig, em: P.EvalModel, examples: list[Example]) -> np.ndarray:
    model = em.model
    cache = cfg.cache_dir or E.default_cache_dir()
    key = E.model_id(model.vision, to_dict(model.config.vision) | {"init_seed": model.config.init_seed})
    return E.cached_embeddings(examples, cache_dir=cache, model_key=key,
                               compute=lambda: E.embed(examples, model.vision.pooled, em.load_image,
                                                       cfg.batch_size, em.device))


def _row(kind: str, index: int, q: Example, demos: list[Example], prompt: str) -> dict:
    row = {"index": index, "key": q.key, "image": q.image, "demos": [d.key for d in demos], "prompt": prompt}
    if kind == CAPTIONING:
        row["references"] = list(q.references)
    elif kind == VQA:
        row.update(question=q.question, answers=list(q.answers))
    else:
        row["label"] = q.label
    return row


def run_trial(cfg: EvalConfig, em: P.EvalModel, data: TaskData, queries: list[Example], retriever: Retriever,
              shots: int, seed: int, rank: int = 0, world: int = 1) -> list[dict]:
    """This rank's predictions for one (shot count, trial)."""
    kind = TASKS[cfg.task]
    template = template_for(cfg.task, kind)
    pool = D.trial_pool(data.pool, cfg.pool_size, seed)
    k = shots if shots else ZERO_SHOT_TEXT_DEMOS
    mine = [(i, q) for i, q in enumerate(queries) if i % world == rank]
    rows: list[dict] = []
    for start in range(0, len(mine), cfg.batch_size):
        batch = mine[start:start + cfg.batch_size]
        demo_sets = [retriever.demos(q, k, pool, seed) for _, q in batch]
        prompts = [build_prompt(template, kind, d, q, text_only=shots == 0) for (_, q), d in zip(batch, demo_sets)]
        paths = [([x.image for x in d] if shots else []) + [q.image] for (_, q), d in zip(batch, demo_sets)]
        new = [_row(kind, i, q, d, p) for (i, q), d, p in zip(batch, demo_sets, prompts)]
        if P.is_generation(kind):
            preds = P.generate_batch(em, kind, prompts, paths, num_beams=cfg.num_beams,
                                     max_new_tokens=cfg.new_tokens(kind))
            for r, pred in zip(new, preds):
                r["prediction"] = pred
        else:
            for r, prompt, p in zip(new, prompts, paths):
                s = P.class_scores(em, prompt, p, data.class_names, length_normalize=cfg.length_normalize)
                r["scores"] = dict(zip(data.class_names, s))
                r["prediction"] = data.class_names[int(np.argmax(s))]
        rows += new
        log.debug("%d-shot seed %d: %d/%d queries", shots, seed, start + len(batch), len(mine))
    return rows


def check_pool(cfg: EvalConfig, data: TaskData) -> None:
    need = max([s if s else ZERO_SHOT_TEXT_DEMOS for s in cfg.shots]) + 1  # +1: a query may sit in the pool
    if len(data.pool) < need:
        raise UsageError(f"{len(data.pool)} demonstrations in the pool, {need - 1} asked for per query",
                         "give a larger training split (--demo_data) or fewer --shots")


def evaluate(cfg: EvalConfig, em: P.EvalModel, data: TaskData, *, out_dir: str | None = None,
             checkpoint: dict | None = None) -> dict:
    """Run every shot count and trial; rank 0 returns the results dict (others an empty dict)."""
    kind = TASKS[cfg.task]
    check_pool(cfg, data)
    world = dist.get_world_size() if dist.is_initialized() else 1
    rank = dist.get_rank() if dist.is_initialized() else 0
    queries = select_queries(data.queries, cfg.max_queries, cfg.seed)
    t0 = time.time()
    em.model.eval()
    retriever = Retriever(cfg, em, data, queries)
    per_shot: dict[str, dict] = {}
    backends = set()
    for shots in cfg.shots:
        values, extras = [], []
        for trial in range(cfg.trials):
            seed = cfg.seed + trial
            rows = gather_rows(run_trial(cfg, em, data, queries, retriever, shots, seed, rank, world), em.device)
            if rank != 0:
                continue
            value, per, extra = score_rows(cfg.task, kind, rows, cfg.tokenizer)
            backends.add(extra.pop("tokenizer", None))
            values.append(value)
            extras.append(extra)
            if out_dir:
                for r, s in zip(rows, per):
                    r["score"] = s
                write_predictions(predictions_path(out_dir, cfg.task, shots, trial), rows)
            log.info("%s %d-shot trial %d (seed %d): %s %.2f", cfg.task, shots, trial, seed,
                     metric_name(cfg.task, kind), value)
        if rank == 0:
            per_shot[str(shots)] = summarise(values) | {"seeds": [cfg.seed + t for t in range(cfg.trials)]}
            if extras and extras[0]:
                per_shot[str(shots)]["extra"] = {k: float(np.mean([e[k] for e in extras])) for k in extras[0]}
    if rank != 0:
        return {}
    template = template_for(cfg.task, kind)
    return {
        "task": cfg.task, "kind": kind, "metric": metric_name(cfg.task, kind), "shots": per_shot,
        "num_queries": len(queries), "num_pool": len(data.pool), "demos": cfg.demos,
        "prompt": {"demonstration": template.demo, "query": template.query,
                   "zero_shot": f"{ZERO_SHOT_TEXT_DEMOS} demonstrations, text only (their <image> removed)"},
        "decoding": {"num_beams": cfg.num_beams, "max_new_tokens": cfg.new_tokens(kind)} if P.is_generation(kind)
        else {"rank_by": ("mean" if cfg.length_normalize else "summed") + " log-likelihood of the class name"},
        "tokenizer": next(iter(sorted(b for b in backends if b)), None),
        "image_ablation": cfg.image_ablation,
        "checkpoint": checkpoint or {}, "world_size": world, "elapsed_s": round(time.time() - t0, 1),
        "config": to_dict(cfg),
    }
