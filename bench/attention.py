"""Attention kernels on this CPU: SDPA (flash, math) vs two matrix products, fp32 and bf16.

Why ``flamingo.attention`` takes the products in bf16/fp16 on a CPU and SDPA elsewhere.
Shapes are bench/model.py's: the LM's causal self-attention (B 4, 6 heads, 128 tokens,
head 64) and the Perceiver's latents over [media; latents] (8 images, 4 heads, 64 x 113).
Each line is forward + backward, the median of ``--repeats`` timings of 20 calls.

Run: ``python bench/attention.py [--threads 1]`` (about 20 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from flamingo.attention import product_attention

SHAPES = {
    "LM causal (4, 6, 128x128, 64)": ((4, 6, 128, 64), (4, 6, 128, 64), True),
    "Perceiver (8, 4, 64x113, 64)": ((8, 4, 64, 64), (8, 4, 113, 64), False),
}


def run(kernel, q, k, v, causal):
    if kernel == "products":
        return product_attention(q, k, v, is_causal=causal)
    backend = SDPBackend.FLASH_ATTENTION if kernel == "sdpa-flash" else SDPBackend.MATH
    with sdpa_kernel(backend):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def time_kernel(kernel, shape_q, shape_k, causal, dtype, repeats):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(shape_q, generator=g).to(dtype).requires_grad_()
    k, v = (torch.randn(shape_k, generator=g).to(dtype).requires_grad_() for _ in range(2))

    def once():
        run(kernel, q, k, v, causal).float().sum().backward()

    for _ in range(3):
        once()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(20):
            once()
        times.append((time.perf_counter() - t0) / 20)
    return statistics.median(times), min(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads {args.threads}, load average {os.getloadavg()[0]:.1f}")
    for dtype in (torch.float32, torch.bfloat16):
        for label, (sq, sk, causal) in SHAPES.items():
            row = []
            for kernel in ("sdpa-flash", "sdpa-math", "products"):
                med, lo, hi = time_kernel(kernel, sq, sk, causal, dtype, args.repeats)
                row.append(f"{kernel} {med * 1e3:.2f} ms ({lo * 1e3:.2f}-{hi * 1e3:.2f})")
            print(f"{str(dtype).removeprefix('torch.'):8s} {label:30s} " + "; ".join(row))


if __name__ == "__main__":
    main()
