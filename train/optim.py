"""AdamW over the trainable parameters and the learning-rate schedule.

The paper's defaults: AdamW, lr 1e-4, weight decay 0.1 except on the Perceiver
(and gates, norms, biases: the model's ``param_groups`` decides), linear warm-up then
constant. The schedule is a pure function of the step, so resuming needs only the step.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from train.config import OptimConfig, ScheduleConfig


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """The model's own grouping when it has one; else decay matrices only."""
    if hasattr(model, "param_groups"):
        return model.param_groups(weight_decay)
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]


def split_gates(groups: list[dict], model: nn.Module, mult: float) -> list[dict]:
    """Each group's gate parameters (names ending in ``_gate``) in a group of their own whose
    ``lr_mult`` is ``mult``; unchanged when ``mult`` is 1. Adam moves a parameter by about lr per
    step, so a gate that starts at 0 opens no faster than that: short runs raise it (train/see.py)."""
    if mult == 1.0:
        return groups
    gates = {id(p) for n, p in model.named_parameters() if n.endswith("_gate")}
    out = []
    for g in groups:
        for params, m in (([p for p in g["params"] if id(p) not in gates], 1.0),
                          ([p for p in g["params"] if id(p) in gates], mult)):
            if params:
                out.append({**g, "params": params, "lr_mult": m})
    return out


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    groups = [g for g in param_groups(model, cfg.weight_decay) if g["params"]]
    groups = split_gates(groups, model, cfg.gate_lr_mult)
    # foreach: one fused kernel per group on GPU; on CPU it is at least as fast as the loop.
    return torch.optim.AdamW(
        groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, foreach=True
    )


def lr_at(step: int, total_steps: int, lr: float, cfg: ScheduleConfig) -> float:
    """Learning rate for optimiser step ``step`` (0-based)."""
    if cfg.warmup_steps > 0 and step < cfg.warmup_steps:
        return lr * (step + 1) / cfg.warmup_steps
    if cfg.kind == "constant":
        return lr
    span = max(1, total_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = lr * cfg.min_lr_ratio
    if cfg.kind == "linear":
        return floor + (lr - floor) * (1.0 - progress)
    if cfg.kind == "cosine":
        return floor + (lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown schedule {cfg.kind!r}")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_mult", 1.0)
