"""What a run reports: losses, throughput, data wait, MFU, gate values; JSONL, TensorBoard, a bar.

MFU counts, per optimiser step, the frozen towers' forward (2 FLOPs per parameter per
token for the LM; per patch for the vision tower) and the trainable parts' forward and
backward (6 per parameter per token). The backward pass through the frozen LM that
carries gradients down to the lower cross-attention layers is real work this count
leaves out, so the figure is conservative.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)

# Dense bf16 peak, FLOP/s, by device-name fragment (vendor datasheets).
PEAK_BF16 = {
    "H200": 989e12,
    "H100": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "A10G": 125e12,
    "4090": 165e12,
}


@dataclass(frozen=True)
class ParamCounts:
    lm: int  # frozen language model
    vision: int  # frozen vision tower
    trainable: int  # Perceiver + gated cross-attention (+ any trainable embeddings)


def count_params(model: nn.Module) -> ParamCounts:
    """Split parameters by role; a frozen parameter under a module named like *vision*/*visual* is the tower."""
    lm = vision = trainable = 0
    for name, p in model.named_parameters():
        if p.requires_grad:
            trainable += p.numel()
        elif any(part in name for part in ("vision", "visual")):
            vision += p.numel()
        else:
            lm += p.numel()
    return ParamCounts(lm, vision, trainable)


def step_flops(counts: ParamCounts, tokens: int, images: int, patches_per_image: int) -> float:
    return (
        2.0 * counts.lm * tokens
        + 2.0 * counts.vision * images * patches_per_image
        + 6.0 * counts.trainable * tokens
    )


def peak_flops(device: torch.device, configured_tflops: float = 0.0) -> tuple[float, str]:
    """(FLOP/s, where the number came from)."""
    if configured_tflops > 0:
        return configured_tflops * 1e12, "configured"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for frag, flops in PEAK_BF16.items():
            if frag in name:
                return flops, f"{name} bf16 datasheet"
        return 0.0, f"unknown GPU {name}"
    return measured_matmul_flops(), "measured fp32 matmul on this CPU"


def measured_matmul_flops(n: int = 1024, repeats: int = 5) -> float:
    """The best of a few fp32 matmuls: a stand-in for peak where no datasheet applies."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def gate_values(model: nn.Module) -> dict[str, float]:
    """tanh(α) of every scalar gate (parameters with 'gate' in their name)."""
    out = {}
    for name, p in model.named_parameters():
        if "gate" in name and p.numel() == 1:
            out[name] = float(torch.tanh(p.detach().float()).item())
    return out


class Telemetry:
    """Rank 0's sinks: JSONL lines, TensorBoard scalars, a progress bar. Other ranks no-op."""

    def __init__(
        self,
        out_dir: str | Path,
        *,
        enabled: bool,
        jsonl: bool,
        tensorboard: bool,
        progress: bool,
        total: int,
        start: int = 0,
    ):
        self.enabled = enabled
        self._jsonl = self._tb = self._bar = None
        if not enabled:
            return
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if jsonl:
            self._jsonl = open(out / "train_log.jsonl", "a")  # noqa: SIM115 - open for the run, closed in close()
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(out / "tensorboard"))
        if progress:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)

    def record(self, step: int, metrics: dict) -> None:
        if not self.enabled:
            return
        if self._jsonl:
            self._jsonl.write(json.dumps({"step": step, **metrics}) + "\n")
            self._jsonl.flush()
        if self._tb:
            for k, v in metrics.items():
                if isinstance(v, (int, float)):
                    self._tb.add_scalar(k, v, step)
        if self._bar:
            self._bar.set_postfix(
                loss=f"{metrics.get('loss', float('nan')):.4f}",
                tok_s=f"{metrics.get('tokens_per_s', 0):.0f}",
            )
        else:
            log.info(
                "step %d %s",
                step,
                {
                    k: round(v, 4) if isinstance(v, float) else v
                    for k, v in metrics.items()
                    if not k.startswith("gate/")
                },
            )

    def tick(self) -> None:
        if self._bar:
            self._bar.update(1)

    def close(self) -> None:
        for sink in (self._jsonl, self._tb, self._bar):
            if sink is not None:
                sink.close()
