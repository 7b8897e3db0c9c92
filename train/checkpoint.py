"""Step checkpoints that resume exactly and never leave a half-written one behind.

A checkpoint is a directory ``step_00001000/`` with:

* ``model.safetensors``: the trainable weights only (the frozen towers come from the preset);
* ``optimizer.safetensors`` + ``trainer.json``: AdamW's tensors, its param groups, the step,
  the skip counters (no pickle anywhere: tensors in safetensors, the rest JSON);
* ``rank_00000.safetensors`` + ``rank_00000.json`` per rank: torch/CUDA/NumPy/Python RNG
  states and the data streams' positions;
* ``COMPLETE``: written last.

Everything is written into ``.step_00001000.tmp``, fsynced, marked complete, then renamed,
so a process killed mid-save leaves the previous checkpoint as the latest complete one.
Model and optimizer states go through ``torch.distributed.checkpoint.state_dict`` so
plain, DDP and FSDP2 models save the same full, unsharded, name-keyed state.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)

from train import dist as tdist

log = logging.getLogger(__name__)
_STEP_RE = re.compile(r"^step_(\d{8})$")
MARKER = "COMPLETE"


def _before_commit() -> None:
    """Test hook: runs after the temporary directory is written, before it is committed."""


def step_dir(root: str | Path, step: int) -> Path:
    return Path(root) / f"step_{step:08d}"


def latest(root: str | Path) -> Path | None:
    """The newest complete checkpoint under ``root``; temporary and unmarked ones are ignored."""
    root = Path(root)
    if not root.is_dir():
        return None
    done = [p for p in root.iterdir() if _STEP_RE.match(p.name) and (p / MARKER).is_file()]
    return max(done, key=lambda p: p.name, default=None)


# ----------------------------------------------------------------------- states


def _trainable_names(model: nn.Module) -> set[str]:
    return {n for n, p in tdist.unwrap(model).named_parameters() if p.requires_grad}


def _full_options(**kw: Any) -> StateDictOptions:
    return StateDictOptions(full_state_dict=True, cpu_offload=True, **kw)


def model_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    names = _trainable_names(model)
    sd = get_model_state_dict(model, options=_full_options())
    return {k: v.contiguous() for k, v in sd.items() if k in names}


def optimizer_parts(model: nn.Module, opt: torch.optim.Optimizer) -> tuple[dict, dict]:
    """AdamW state -> (tensors for safetensors, JSON for the rest)."""
    osd = get_optimizer_state_dict(model, opt, options=_full_options())
    tensors, scalars = {}, {}
    for fqn, entries in osd.get("state", {}).items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{fqn}\x1f{name}"] = value.contiguous()
            else:
                scalars.setdefault(fqn, {})[name] = value
    return tensors, {"param_groups": osd.get("param_groups", []), "scalars": scalars}


def _optimizer_from_parts(tensors: dict, meta: dict) -> dict:
    state: dict[str, dict] = {fqn: dict(v) for fqn, v in meta["scalars"].items()}
    for key, value in tensors.items():
        fqn, name = key.split("\x1f")
        state.setdefault(fqn, {})[name] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda{i}"] = s
    np_state = np.random.get_state()
    tensors["numpy_keys"] = torch.from_numpy(np_state[1].astype(np.int64))
    version, internal, gauss = random.getstate()
    meta = {
        "python": [version, list(internal), gauss],
        "numpy": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
    }
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict) -> None:
    torch.set_rng_state(tensors["torch"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("cuda")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    name, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state(
        (name, tensors["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss, cached)
    )
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))


# ------------------------------------------------------------------------ saving


def _write_json(path: Path, obj: Any) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())


def _fsync_tree(path: Path) -> None:
    for p in path.iterdir():
        with open(p, "rb") as f:
            os.fsync(f.fileno())
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(
    root: str | Path,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    trainer_state: dict,
    rank_state: dict,
    info: tdist.DistInfo,
    keep_last: int = 3,
) -> Path:
    """Every rank calls this. Returns the final directory."""
    root, final = Path(root), step_dir(root, step)
    tmp = root / f".{final.name}.tmp"
    if info.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    tdist.barrier()
    weights = model_tensors(model)  # collective under FSDP: every rank takes part
    opt_tensors, opt_meta = optimizer_parts(model, optimizer)
    rng_tensors, rng_meta = rng_state()
    save_file(rng_tensors, tmp / f"rank_{info.rank:05d}.safetensors")
    _write_json(tmp / f"rank_{info.rank:05d}.json", {"rng": rng_meta, **rank_state})
    if info.is_main:
        save_file(weights, tmp / "model.safetensors")
        save_file(opt_tensors, tmp / "optimizer.safetensors")
        _write_json(tmp / "trainer.json", {"step": step, "optimizer": opt_meta, **trainer_state})
    tdist.barrier()
    if info.is_main:
        _fsync_tree(tmp)
        _before_commit()
        _write_json(tmp / MARKER, {"step": step, "world_size": info.world_size})
        if final.exists():  # saving a step again (e.g. a rerun): the old copy goes first
            shutil.rmtree(final)
        os.rename(tmp, final)
        fd = os.open(root, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        prune(root, keep_last)
        log.info("checkpoint saved: %s", final)
    tdist.barrier()
    return final


def prune(root: Path, keep_last: int) -> None:
    done = sorted(p for p in root.iterdir() if _STEP_RE.match(p.name) and (p / MARKER).is_file())
    for old in done[: max(0, len(done) - keep_last)]:
        shutil.rmtree(old)
    for stale in root.glob(".step_*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)


# ----------------------------------------------------------------------- loading


def load(
    path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, info: tdist.DistInfo
) -> tuple[dict, dict]:
    """Restore weights, optimizer and this rank's RNG; return (trainer state, rank state)."""
    path = Path(path)
    if not (path / MARKER).is_file():
        raise FileNotFoundError(f"{path} is not a complete checkpoint (no {MARKER})")
    trainer = json.loads((path / "trainer.json").read_text())
    world = json.loads((path / MARKER).read_text())["world_size"]
    if world != info.world_size:
        raise ValueError(
            f"{path} was saved by {world} ranks; exact resume needs {world}, not {info.world_size}"
        )
    weights = load_file(path / "model.safetensors")
    set_model_state_dict(model, weights, options=_full_options(strict=False))
    osd = _optimizer_from_parts(load_file(path / "optimizer.safetensors"), trainer.pop("optimizer"))
    set_optimizer_state_dict(model, optimizer, osd, options=_full_options())
    rank = json.loads((path / f"rank_{info.rank:05d}.json").read_text())
    set_rng_state(load_file(path / f"rank_{info.rank:05d}.safetensors"), rank.pop("rng"))
    return trainer, rank
