"""Step checkpoints that resume exactly, never leave a half-written one behind, and are checked on load.

A checkpoint is a directory ``step_00001000/`` with:

* ``model.safetensors``: the trainable weights only (the frozen towers come from the preset);
* ``optimizer.safetensors`` + ``trainer.json``: AdamW's tensors, its param groups, the step,
  the skip counters (no pickle anywhere: tensors in safetensors, the rest JSON);
* ``config.json``: the run's resolved config (what a resume compares against);
* ``rank_00000.safetensors`` + ``rank_00000.json`` per rank: torch/CUDA/NumPy/Python RNG
  states and the data streams' positions;
* ``COMPLETE``: written last, listing every file with its size and sha256.

Saving: only trainable weights and optimiser state are gathered (``ignore_frozen_params``:
frozen FSDP shards are never all-gathered), one full copy on rank 0's CPU. Every rank writes
and fsyncs its files into ``.step_00001000.tmp`` and reports their sizes and hashes; rank 0
writes ``COMPLETE`` only when every rank reported success and every reported file is there
with its size, then renames the directory. A process killed mid-save leaves the previous
checkpoint as the latest complete one.

Loading: :func:`usable` checks the newest complete checkpoint's files against ``COMPLETE``;
a truncated or corrupt file is named in a warning and the previous complete checkpoint is
used instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)

from flamingo.typedconfig import UsageError
from train import dist as tdist
from train.rng import rng_state, set_rng_state

log = logging.getLogger(__name__)
_STEP_RE = re.compile(r"^step_(\d{8})$")
MARKER = "COMPLETE"


class CheckpointError(UsageError):
    """A checkpoint that cannot be written or read: one line naming the file, exit code 1."""

    exit_code = 1


def _before_commit(tmp: Path) -> None:
    """Test hook: runs after the temporary directory ``tmp`` is written, before it is committed."""


def step_dir(root: str | Path, step: int) -> Path:
    return Path(root) / f"step_{step:08d}"


def complete(root: str | Path) -> list[Path]:
    """Complete checkpoints under ``root``, oldest first; temporary and unmarked ones are ignored."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if _STEP_RE.match(p.name) and (p / MARKER).is_file())


def latest(root: str | Path) -> Path | None:
    """The newest complete checkpoint under ``root`` (not checked; see :func:`usable`)."""
    done = complete(root)
    return done[-1] if done else None


# ----------------------------------------------------------------------- states


def _trainable_names(model: nn.Module) -> set[str]:
    return {n for n, p in tdist.unwrap(model).named_parameters() if p.requires_grad}


def _full_options(**kw: Any) -> StateDictOptions:
    return StateDictOptions(full_state_dict=True, cpu_offload=True, **kw)


def model_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """The trainable weights, gathered in full on rank 0's CPU ({} on other ranks).
    Frozen parameters are left out before gathering, so their shards never move."""
    names = _trainable_names(model)
    sd = get_model_state_dict(model, options=_full_options(ignore_frozen_params=True))
    return {k: v.contiguous() for k, v in sd.items() if k in names}


def optimizer_parts(model: nn.Module, opt: torch.optim.Optimizer) -> tuple[dict, dict]:
    """AdamW state -> (tensors for safetensors, JSON for the rest); rank 0's CPU holds it."""
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


# ------------------------------------------------------------------------ saving


def _write_json(path: Path, obj: Any) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _seal(paths: list[Path]) -> dict[str, dict]:
    """fsync each file; return {name: {bytes, sha256}} as written."""
    out = {}
    for p in paths:
        with open(p, "rb") as f:
            os.fsync(f.fileno())
        out[p.name] = {"bytes": p.stat().st_size, "sha256": _sha256(p)}
    return out


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _gather(obj: Any) -> list[Any]:
    if not dist.is_initialized():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def _write_rank_files(tmp: Path, model, optimizer, trainer_state, rank_state, config, info, step) -> dict:
    weights = model_tensors(model)  # collective under FSDP: every rank takes part
    opt_tensors, opt_meta = optimizer_parts(model, optimizer)
    rng_tensors, rng_meta = rng_state()
    name = f"rank_{info.rank:05d}"
    written = [tmp / f"{name}.safetensors", tmp / f"{name}.json"]
    save_file(rng_tensors, written[0])
    _write_json(written[1], {"rng": rng_meta, **rank_state})
    if info.is_main:
        save_file(weights, tmp / "model.safetensors")
        save_file(opt_tensors, tmp / "optimizer.safetensors")
        _write_json(tmp / "trainer.json", {"step": step, "optimizer": opt_meta, **trainer_state})
        _write_json(tmp / "config.json", config)
        written += [tmp / n for n in ("model.safetensors", "optimizer.safetensors", "trainer.json", "config.json")]
    return _seal(written)


def save(root: str | Path, step: int, model: nn.Module, optimizer: torch.optim.Optimizer, trainer_state: dict,
         rank_state: dict, info: tdist.DistInfo, keep_last: int = 3, config: dict | None = None) -> Path:
    """Every rank calls this. Returns the final directory."""
    root, final = Path(root), step_dir(root, step)
    tmp = root / f".{final.name}.tmp"
    if info.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    tdist.barrier()
    try:
        report: dict | str = _write_rank_files(tmp, model, optimizer, trainer_state, rank_state, config or {},
                                               info, step)
    except Exception as e:  # noqa: BLE001 - reported to every rank below, then raised on this one
        report = f"{type(e).__name__}: {e}"
        failure: Exception | None = e
    else:
        failure = None
    reports = _gather(report)  # every rank's files (or its error), on every rank
    errors = [f"rank {r}: {rep}" for r, rep in enumerate(reports) if isinstance(rep, str)]
    if info.is_main and not errors:
        files = {}
        for rep in reports:
            files.update(rep)
        missing = [n for n, meta in files.items() if not (tmp / n).is_file() or (tmp / n).stat().st_size != meta["bytes"]]
        if missing:
            errors.append(f"files not found with their reported size: {missing}")
        else:
            _fsync_dir(tmp)
            _before_commit(tmp)
            _write_json(tmp / MARKER, {"step": step, "world_size": info.world_size, "files": files})
            if final.exists():  # saving a step again (e.g. a rerun): the old copy goes first
                shutil.rmtree(final)
            os.rename(tmp, final)
            _fsync_dir(root)
            prune(root, keep_last)
            log.info("checkpoint saved: %s", final)
    errors = _gather(errors)[0]  # rank 0's verdict, shared
    if errors:
        if info.is_main:
            shutil.rmtree(tmp, ignore_errors=True)
        if failure is not None:
            raise failure
        raise CheckpointError(f"checkpoint {final.name} was not committed: {'; '.join(errors)}",
                              "the previous checkpoint is kept")
    tdist.barrier()
    return final


def prune(root: Path, keep_last: int) -> None:
    done = complete(root)
    for old in done[: max(0, len(done) - keep_last)]:
        shutil.rmtree(old)
    for stale in root.glob(".step_*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)


# ----------------------------------------------------------------------- loading


def problem(path: Path) -> str | None:
    """Why checkpoint ``path`` cannot be used (a file named), or None when every file listed in
    ``COMPLETE`` is there with its size and hash."""
    try:
        marker = json.loads((path / MARKER).read_text())
    except (OSError, ValueError) as e:
        return f"{path / MARKER}: unreadable ({e})"
    for name, meta in marker.get("files", {}).items():
        f = path / name
        if not f.is_file():
            return f"{f}: missing"
        if f.stat().st_size != meta["bytes"]:
            return f"{f}: {f.stat().st_size} bytes, {meta['bytes']} written (truncated)"
        if _sha256(f) != meta["sha256"]:
            return f"{f}: content differs from what was written (corrupt)"
    return None


def usable(root: str | Path) -> Path | None:
    """The newest complete checkpoint whose files check out; each newer one that does not is
    named in a warning. Rank 0 decides and tells the others, so all ranks load the same one."""
    choice: Path | None = None
    if not dist.is_initialized() or dist.get_rank() == 0:
        for path in reversed(complete(root)):
            why = problem(path)
            if why is None:
                choice = path
                break
            log.warning("checkpoint %s is not usable: %s; trying the previous complete one", path.name, why)
    if dist.is_initialized():
        box = [str(choice) if choice else None]
        dist.broadcast_object_list(box, src=0)
        choice = Path(box[0]) if box[0] else None
    return choice


def _read(path: Path, what):
    """Load one file; a failure names the file (and the caller falls back)."""
    try:
        return what(path)
    except (OSError, ValueError, SafetensorError, KeyError) as e:
        raise CheckpointError(f"checkpoint file {path} cannot be read: {type(e).__name__}: {e}",
                              "it is truncated or corrupt; remove its checkpoint directory to resume from the "
                              "previous one") from None


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def rank_states(path: str | Path) -> list[dict]:
    """Every rank's JSON state (RNG meta stripped) from checkpoint ``path``, in rank order."""
    path = Path(path)
    world = _read(path / MARKER, _json)["world_size"]
    out = []
    for r in range(world):
        state = _read(path / f"rank_{r:05d}.json", _json)
        state.pop("rng", None)
        out.append(state)
    return out


def load(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, info: tdist.DistInfo) -> dict:
    """Restore weights, optimizer and (same world size) this rank's RNG; return the trainer state."""
    path = Path(path)
    if not (path / MARKER).is_file():
        raise FileNotFoundError(f"{path} is not a complete checkpoint (no {MARKER})")
    trainer = _read(path / "trainer.json", _json)
    world = _read(path / MARKER, _json)["world_size"]
    weights = _read(path / "model.safetensors", load_file)
    set_model_state_dict(model, weights, options=_full_options(strict=False))
    osd = _optimizer_from_parts(_read(path / "optimizer.safetensors", load_file), trainer.pop("optimizer"))
    set_optimizer_state_dict(model, optimizer, osd, options=_full_options())
    if world == info.world_size:
        rank = _read(path / f"rank_{info.rank:05d}.json", _json)
        set_rng_state(_read(path / f"rank_{info.rank:05d}.safetensors", load_file), rank["rng"])
    return trainer
