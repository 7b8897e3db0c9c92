"""Mixed precision: which one a run uses, and the autocast context that applies it.

``bf16`` is autocast to bfloat16 around the forward pass with fp32 master weights,
gradients and AdamW state (parameters are never cast). ``auto`` picks bf16 where the
hardware runs bf16 matrix products natively and fp32 elsewhere. Measured with
``bench/train_precision.py`` (its GEMM line, a 512x576 @ 576x1536 product): on an
AVX512-BF16 CPU, bf16 autocast took 1.0 ms vs 4.5 ms fp32; the same machine with oneDNN
held to AVX2 (``ONEDNN_MAX_CPU_ISA=AVX2``, as on a CPU without bf16 support) fell back to
a reference bf16 GEMM: 331 ms vs 4.7 ms, 70x slower than fp32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

from train.config import PRECISIONS


def cpu_has_fast_bf16() -> bool:
    """oneDNN will run bf16 GEMMs and the cores have bf16 instructions (AVX512-BF16 or AMX)."""
    cpu = torch.cpu
    native = (
        getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
        or getattr(cpu, "_is_amx_tile_supported", lambda: False)()
    )
    mkldnn = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(native and mkldnn is not None and mkldnn())


def resolve(precision: str, device: torch.device, fast_bf16: bool | None = None) -> str:
    """``bf16`` or ``fp32`` for this run; ``fast_bf16`` overrides the hardware probe (tests)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    if fast_bf16 is None:
        fast_bf16 = torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_has_fast_bf16()
    return "bf16" if fast_bf16 else "fp32"


def autocast(
    precision: str, device: torch.device
) -> Callable[[], contextlib.AbstractContextManager]:
    """A factory of fresh autocast contexts (one per forward) for a resolved precision."""
    if precision == "bf16":
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext
