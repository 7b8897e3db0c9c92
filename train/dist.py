"""Process-group setup from torchrun's environment, and model wrapping (DDP or FSDP2).

One process per device. With ``WORLD_SIZE`` unset this is a plain single process and
nothing is initialised. Helpers here are the only place that branches on distribution.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: str = "", backend: str = "") -> DistInfo:
    """Read torchrun's variables, pick the device, start the process group if needed."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not device:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(f"cuda:{local}") if device == "cuda" else torch.device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if dev.type == "cuda" else "gloo"))
    return DistInfo(rank, world, local, dev)


def teardown(timeout_s: float = 300.0) -> None:
    """Leave the process group together: every rank meets at a barrier, then destroys it.

    Without the barrier a rank that finishes first (rank 0 still writing results while its
    peer leaves) can abort inside gloo ("terminate called without an active exception",
    SIGABRT) after its work is done. Gloo's monitored barrier is bounded and names a rank
    that never arrives; other backends use the plain barrier."""
    if not dist.is_initialized():
        return
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=timedelta(seconds=timeout_s))
        else:
            dist.barrier()
    finally:
        dist.destroy_process_group()


def wrap(model: nn.Module, info: DistInfo, strategy: str) -> nn.Module:
    """DDP, or FSDP2 with the units of :func:`shard_units` sharded on their own, then the root."""
    if not info.distributed:
        return model
    if strategy == "ddp":
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [info.device.index] if info.device.type == "cuda" else None
        # Frozen towers have no gradients: DDP only buckets parameters that require grad.
        return DDP(model, device_ids=ids)
    if strategy == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for unit in shard_units(model):
            fully_shard(unit)
        fully_shard(model)  # the root: embeddings, head, final norm and whatever is left
        return model
    raise ValueError(f"unknown strategy {strategy!r}")


def shard_units(model: nn.Module) -> list[nn.Module]:
    """FSDP2 units, innermost first. For a Flamingo: every frozen LM decoder layer, every gated
    cross-attention block, the vision tower and the Perceiver each shard on their own, so the
    frozen towers' parameters are split across ranks (held whole only while their unit runs)
    and each unit holds one dtype (a bf16 LM layer apart from its fp32 block). Other models
    (tests' stand-ins): the largest all-trainable submodules."""
    layers = getattr(model, "flamingo_layers", None)
    if not layers:
        return _trainable_blocks(model)
    units: list[nn.Module] = []
    for layer in layers:
        if layer.xattn is not None:
            units.append(layer.xattn)
        units.append(layer.decoder_layer)
    return [*units, model.vision, model.perceiver]


def _trainable_blocks(model: nn.Module) -> list[nn.Module]:
    """Largest submodules whose parameters are all trainable: the units FSDP shards."""
    blocks: list[nn.Module] = []

    def visit(m: nn.Module) -> None:
        params = list(m.parameters())
        if m is not model and params and all(p.requires_grad for p in params):
            blocks.append(m)
            return
        for child in m.children():
            visit(child)

    visit(model)
    return blocks


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def unwrap(model: nn.Module) -> nn.Module:
    return (
        model.module if hasattr(model, "module") and isinstance(model.module, nn.Module) else model
    )
