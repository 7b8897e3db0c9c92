"""One optimiser step's gradients: a batch from every dataset, weighted, accumulated.

The paper's finding: summing the weighted losses of a batch from each dataset at every
step trains far better than taking datasets in turn. Here each micro-step takes one
batch per dataset and backpropagates ``weight * loss / grad_accum``, so after
``grad_accum`` micro-steps the gradient is ``Σ_micro Σ_d w_d ∇loss_d / grad_accum``.
Under DDP only the last backward of the step synchronises gradients.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

MODEL_KEYS = ("input_ids", "images", "attention_mask", "labels")


@dataclass
class Source:
    name: str
    weight: float
    batches: Iterator[dict]


@dataclass
class StepStats:
    losses: dict[str, float] = field(default_factory=dict)  # mean loss per dataset over micro-steps
    finite_loss: bool = True
    tokens: int = 0
    images: int = 0  # media: images or clips
    samples: int = 0
    frames: int = 0  # frames of all media (= images for still images)
    data_wait_s: float = 0.0


def _no_sync(model: nn.Module, last: bool):
    if last or not hasattr(model, "no_sync"):
        return contextlib.nullcontext()
    return model.no_sync()


def to_device(batch: dict, device: torch.device) -> dict:
    return {
        k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v)
        for k, v in batch.items()
    }


def accumulate(
    model: nn.Module,
    sources: list[Source],
    grad_accum: int,
    device: torch.device,
    autocast: contextlib.AbstractContextManager | None = None,
) -> StepStats:
    """Forward and backward every (micro-step, dataset); gradients are left in ``.grad``."""
    stats = StepStats()
    sums = {s.name: torch.zeros((), device=device) for s in sources}
    counts = torch.zeros(3, dtype=torch.long, device=device)  # tokens, media, frames
    for micro in range(grad_accum):
        for i, src in enumerate(sources):
            t = time.perf_counter()
            batch = next(src.batches)
            stats.data_wait_s += time.perf_counter() - t
            batch = to_device(batch, device)
            last = micro == grad_accum - 1 and i == len(sources) - 1
            with autocast or contextlib.nullcontext():
                out = model(**{k: batch[k] for k in MODEL_KEYS})
            loss = out.loss.float()
            with _no_sync(model, last):
                (loss * (src.weight / grad_accum)).backward()
            sums[src.name] += loss.detach()
            counts[0] += batch["attention_mask"].sum()
            media = batch.get("num_images", torch.zeros((), dtype=torch.long, device=device))
            counts[1] += media
            counts[2] += batch.get("num_frames", media)
            stats.samples += batch["input_ids"].shape[0]
    # One host sync per step, not one per micro-batch.
    values = torch.stack(list(sums.values())).cpu() / grad_accum
    stats.losses = {name: float(v) for name, v in zip(sums, values)}
    stats.finite_loss = bool(torch.isfinite(values).all())
    stats.tokens, stats.images, stats.frames = (int(x) for x in counts.cpu())
    return stats
