"""Resuming: pick a usable checkpoint, check it agrees with this run, restore model, optimiser,
RNG and data positions (:func:`restore`).

A checkpoint stores the config of the run that wrote it. Resuming with a different learning
rate, batch size, mixture, sequence length or data seed would silently continue a different
experiment under the old one's name, so such a difference is refused, listed option by
option, unless ``--allow-config-change`` is given. Options that change how a run executes
but not what it computes (logging, checkpoint cadence, workers, world size, compile,
activation checkpointing) may change freely; a different world size or worker count is
handled by the data streams (an elastic resume, with its own warning).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from flamingo import typedconfig as tc
from flamingo.typedconfig import ConfigError
from train import checkpoint as ckpt
from train.config import TrainConfig, read_saved
from train.dist import DistInfo

log = logging.getLogger(__name__)

# Dotted prefixes of options that shape the data a step sees or the update it makes.
SHAPING = ("model.preset", "model.vision_weights", "precision", "data.max_tokens", "data.max_images",
           "data.truncate", "data.image_placement", "data.video_frames", "data.shuffle_buffer", "data.seed", "optim.", "schedule.")
DATASET_FIELDS = ("paths", "kind", "weight", "batch_size")


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, f"{name}."))
        else:
            out[name] = v
    return out


def differences(saved: dict, now: dict) -> list[str]:
    """``option: old -> new`` for every shaping option that differs (datasets matched by name)."""
    a, b = _flat(saved), _flat(now)
    keys = [k for k in sorted(set(a) | set(b)) if k.startswith(SHAPING) or k == "steps"]
    if now.get("schedule", {}).get("kind") == "constant" and saved.get("schedule", {}).get("kind") == "constant":
        keys = [k for k in keys if k != "steps"]  # a constant schedule does not depend on the run's length
    out = [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys if a.get(k) != b.get(k)]
    old = {d["name"]: d for d in saved.get("data", {}).get("datasets", [])}
    for d in now.get("data", {}).get("datasets", []):
        if d["name"] in old:
            out += [f"data.datasets[{d['name']}].{f}: {old[d['name']].get(f)!r} -> {d.get(f)!r}"
                    for f in DATASET_FIELDS if old[d["name"]].get(f) != d.get(f)]
    return out


def check_config(saved: dict | None, now: dict, allow: bool, where: str) -> None:
    """Refuse a resume whose shaping options differ from the checkpoint's, unless ``allow``."""
    if not saved:
        log.warning("checkpoint %s holds no config.json (written before it was saved): options not compared", where)
        return
    diffs = differences(saved, now)
    if not diffs:
        return
    if allow:
        log.warning("resuming %s with changed options (--allow-config-change): %s", where, "; ".join(diffs))
        return
    raise ConfigError(f"resuming {where} with changed options: {'; '.join(diffs)}",
                      "restore them, or pass --allow-config-change to continue with the new values")


def match_datasets(saved: list[str], now: list[str], allow: bool, where: str) -> set[str]:
    """The datasets to restore. A dataset of this run without a saved position (renamed, added)
    or a saved one this run lacks is an error unless ``allow``; then the first starts afresh
    and the second is dropped, each with a warning."""
    new, gone = [n for n in now if n not in saved], [n for n in saved if n not in now]
    if (new or gone) and not allow:
        what = "; ".join([*(f"dataset {n!r} has no saved position" for n in new),
                          *(f"saved dataset {n!r} is not in this run" for n in gone)])
        raise ConfigError(f"resuming {where}: {what} (the checkpoint has {', '.join(map(repr, saved))})",
                          "use the names the run was started with, or pass --allow-config-change to start new "
                          "datasets afresh and drop missing ones")
    for n in new:
        log.warning("dataset %r is not in checkpoint %s: it starts from its beginning", n, where)
    for n in gone:
        log.warning("dataset %r of checkpoint %s is not in this run: its position is dropped", n, where)
    return {n for n in now if n in saved}


@dataclass
class Resumed:
    path: Path
    trainer: dict  # step, skip counters
    exact: bool  # False after a change of world size or loader workers


def restore(cfg: TrainConfig, info: DistInfo, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
            streams: list) -> Resumed | None:
    """Continue from the newest usable checkpoint (when ``cfg.checkpoint.resume``); None: start afresh."""
    if not cfg.checkpoint.resume:
        return None
    found = ckpt.usable(cfg.checkpoint.dir)
    if found is None:
        if ckpt.latest(cfg.checkpoint.dir) is not None:
            raise ckpt.CheckpointError(f"no usable checkpoint in {cfg.checkpoint.dir}", "every complete one has a "
                                       "missing, truncated or corrupt file (see the warnings above)")
        return None
    allow = cfg.checkpoint.allow_config_change
    check_config(read_saved(found), tc.to_dict(cfg), allow, found.name)
    states = ckpt.rank_states(found)
    names = match_datasets(list(states[0]["data"]), [s.name for s in streams], allow, found.name)
    trainer = ckpt.load(found, model, optimizer, info)
    exact = len(states) == info.world_size
    for s in streams:
        if s.name in names:
            exact &= _restore_stream(s, [st["data"][s.name] for st in states], allow, found.name)
    if not exact:
        old = states[0]["data"][next(iter(names))] if names else {}
        log.warning("resuming %s with %d rank(s) x %s loader worker(s) (checkpoint: %d x %s): continuing each "
                    "dataset's pass from its saved position without repeating a sample of it; NOT bit-exact "
                    "(data order and RNG streams differ from an uninterrupted run)", found.name, info.world_size,
                    cfg.data.num_workers, len(states), old.get("num_workers", "?"))
    return Resumed(found, trainer, exact)


def _restore_stream(stream, saved: list[dict], allow: bool, where: str) -> bool:
    from train.data import OutdatedState

    try:
        return stream.load_state(saved)
    except OutdatedState:
        if not allow:
            raise ConfigError(f"checkpoint {where} saved dataset {stream.name!r} as replay cursors of an older "
                              "trainer, which this one cannot map to its passes", "pass --allow-config-change to "
                              "restart its data order (weights and AdamW state are kept)") from None
        log.warning("dataset %r starts its data order afresh (checkpoint %s predates data positions)",
                    stream.name, where)
        return False
