"""What a run reports: losses, throughput, data wait, MFU, gate values; JSONL, TensorBoard, a bar.

MFU counts the matrix-multiply FLOPs that run in one optimiser step (2 per weight per token
it is applied to, for each pass that multiplies by it), for real tokens and real media only
(padding is not useful work), leaving out attention-score products (QK^T, AV: ~2% of the
LM's at 256 tokens and width 2048) and element-wise work:

* frozen LM (decoder layers + output head, P_lm weights): forward 2, and backward 2 per
  weight per token: gradients flow through every LM layer to reach the cross-attention
  blocks and the new token embeddings (a gated block sits before layer 0), but frozen
  weights need no weight gradient, so the backward is one product, not two:
  ``4 * P_lm * tokens``;
* trainable parts, forward 2 + backward 4 (input and weight gradients) = 6 per weight:
  cross-attention q/out/dense weights and the new head rows per text token
  (``6 * P_text * tokens``); cross-attention k/v per visual token
  (``6 * P_media * media * n``);
* Perceiver Resampler, per medium: q/out/dense weights per latent and k/v weights per key
  (``F * v`` frame patch tokens plus ``n`` latents), 6 per weight:
  ``6 * (P_latent * n * media + P_kv * (frames * v + media * n))``;
* vision tower, forward only (frozen, no autograd), per frame: 2 per block weight per token
  (``v`` patches + the class token), 2 per patch-embedding weight per patch, and the final
  projection once: ``vision_frame * frames``.

``tokens`` = attention-mask ones, ``media`` = images or clips, ``frames`` = frames of all
media (= media for still images), ``n`` latents, ``v`` patch tokens per frame.
tests/test_train_telemetry.py checks it against a hand count of the tiny config and against
torch's FlopCounterMode on an unpadded batch. Models that are not a Flamingo (tests'
stand-ins) fall back to 2 FLOPs per frozen and 6 per trainable weight per token.
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
class FlopModel:
    """Weights by where they are applied (see the module docstring)."""

    lm: int = 0  # frozen LM matmul weights, per text token
    text: int = 0  # trainable weights per text token (cross-attention q/out/dense, new head rows)
    media: int = 0  # trainable cross-attention k/v weights, per visual token
    latents: int = 0  # n: visual tokens per medium
    perceiver_latent: int = 0  # Perceiver q/out/dense weights, per latent
    perceiver_kv: int = 0  # Perceiver k/v weights, per key (frame patch tokens and latents)
    patch_tokens: int = 0  # v: tokens per frame leaving the vision tower
    vision_frame: float = 0.0  # vision tower forward FLOPs per frame
    frozen_other: int = 0  # fallback only: frozen weights of a model that is not a Flamingo


def _matmul_weights(module: nn.Module | None) -> int:
    """Weights of the Linear layers in ``module`` (what multiplies activations)."""
    if module is None:
        return 0
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Linear))


def _vision_frame_flops(vision: nn.Module) -> tuple[float, int]:
    """(forward FLOPs per frame, patch tokens per frame) of an open_clip ViT tower."""
    visual = getattr(vision, "visual", vision)
    grid = getattr(visual, "grid_size", None)
    conv = getattr(visual, "conv1", None)
    if not (isinstance(grid, tuple) and conv is not None and hasattr(visual, "transformer")):
        params = sum(p.numel() for p in visual.parameters())
        return 2.0 * params, 1  # not a ViT we know: one token's worth per frame
    patches = grid[0] * grid[1]
    blocks = sum(p.numel() for p in visual.transformer.parameters() if p.ndim >= 2)
    proj = visual.proj.numel() if isinstance(getattr(visual, "proj", None), torch.Tensor) else 0
    return 2.0 * (blocks * (patches + 1) + conv.weight.numel() * patches + proj), patches


def flop_model(model: nn.Module) -> FlopModel:
    layers = getattr(model, "flamingo_layers", None)
    if not layers:  # a stand-in: everything applied once per token
        frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        return FlopModel(text=trainable, frozen_other=frozen)
    head = model.lm.get_output_embeddings()
    lm = sum(_matmul_weights(layer.decoder_layer) for layer in layers) + _matmul_weights(getattr(head, "base", head))
    text = _matmul_weights(getattr(head, "new", None))
    media = 0
    for layer in layers:
        if layer.xattn is not None:
            kv = layer.xattn.attn.to_kv.weight.numel()
            text += _matmul_weights(layer.xattn) - kv
            media += kv
    per = model.perceiver
    kv = sum(attn.to_kv.weight.numel() for attn, _ in per.layers)
    vision_frame, patches = _vision_frame_flops(model.vision)
    return FlopModel(lm=lm, text=text, media=media, latents=per.latents.shape[0],
                     perceiver_latent=_matmul_weights(per) - kv, perceiver_kv=kv, patch_tokens=patches,
                     vision_frame=vision_frame)


def step_flops(m: FlopModel, tokens: int, media: int, frames: int | None = None) -> float:
    """Matmul FLOPs of one optimiser step over ``tokens`` real tokens and ``media`` images/clips
    of ``frames`` frames in all (see the module docstring)."""
    frames = media if frames is None else frames
    return (4.0 * m.lm * tokens
            + 2.0 * m.frozen_other * tokens
            + 6.0 * m.text * tokens
            + 6.0 * m.media * media * m.latents
            + 6.0 * (m.perceiver_latent * m.latents * media + m.perceiver_kv * (frames * m.patch_tokens + media * m.latents))
            + m.vision_frame * frames)


def peak_flops(device: torch.device, configured_tflops: float = 0.0, precision: str = "fp32") -> tuple[float, str]:
    """(FLOP/s, where the number came from). On a CPU, a matmul measured in the run's precision:
    bf16 matmuls run ~2x fp32's rate on a CPU with bf16 instructions, so an fp32 peak put a bf16
    run's MFU near 80%."""
    if configured_tflops > 0:
        return configured_tflops * 1e12, "configured"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for frag, flops in PEAK_BF16.items():
            if frag in name:
                return flops, f"{name} bf16 datasheet"
        return 0.0, f"unknown GPU {name}"
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    return measured_matmul_flops(dtype=dtype), f"measured {precision} matmul on this CPU"


def measured_matmul_flops(n: int = 1024, repeats: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """The best of a few matmuls: a stand-in for peak where no datasheet applies."""
    g = torch.Generator().manual_seed(0)  # never the global RNG: a resumed run must not shift it
    a, b = (torch.randn(n, n, generator=g).to(dtype) for _ in range(2))
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
            truncate_log(out / "train_log.jsonl", start)
            self._jsonl = open(out / "train_log.jsonl", "a")  # noqa: SIM115 - open for the run, closed in close()
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step: events at or after it, left by the run that crashed, are hidden on reload
            self._tb = SummaryWriter(str(out / "tensorboard"), purge_step=start + 1 if start else None)
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


def truncate_log(path: Path, step: int) -> None:
    """Keep only the lines up to ``step`` (a resumed run logs steps after it again); atomically."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                kept.append(line)
        except ValueError:
            continue  # a line cut by the crash
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{line}\n" for line in kept))
    tmp.replace(path)
