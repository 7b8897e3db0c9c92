"""bf16 autocast vs fp32 for a training preset on this machine: seconds per step and losses.

Decides the ``demo`` preset's precision (``train/config.py``). Both precisions train the same
model from the same initial trainable weights on the same batches, held in memory so the
loader's cost is left out; runs go fp32, bf16, bf16, fp32 (ABBA) so drift in machine load hits
both alike. Prints median s/step per run, the bf16/fp32 speed ratio and the loss gap; first,
one GEMM of a demo-sized layer (512x576 @ 576x1536) in fp32 and under bf16 autocast, which
shows whether this CPU multiplies bf16 natively (``ONEDNN_MAX_CPU_ISA=AVX2`` imitates one
that does not) and what ``precision="auto"`` picks here.

Usage (repo root): python bench/train_precision.py [--preset demo] [--steps 12] [--threads N]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class ListStream:
    """The trainer's stream interface over batches already in memory, replayed in order."""

    def __init__(self, name: str, batches: list[dict]):
        self.name, self.batches, self.i = name, batches, 0

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        batch = self.batches[self.i % len(self.batches)]
        self.i += 1
        return dict(batch)

    def state(self) -> dict:
        return {"i": self.i}

    def load_state(self, state: dict) -> None:
        self.i = state["i"]

    def dropped_total(self) -> dict:
        return {}


def gemm_ms(repeats: int = 20) -> tuple[float, float]:
    """Milliseconds for one 512x576 @ 576x1536 product: fp32, then under bf16 autocast."""
    import torch

    a, b = torch.randn(512, 576), torch.randn(576, 1536)

    def timed() -> float:
        a @ b  # warm-up: oneDNN builds its kernel on the first call
        t = time.perf_counter()
        for _ in range(repeats):
            a @ b
        return (time.perf_counter() - t) / repeats * 1e3

    fp32 = timed()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = timed()
    return fp32, bf16


def _config(preset: str, shards: dict, out: Path, steps: int):
    from train.config import PRESETS, DatasetConfig

    cfg = PRESETS.get(preset)
    cfg.steps, cfg.device = steps, "cpu"
    cfg.checkpoint.dir, cfg.checkpoint.every = str(out), 0
    cfg.log.progress, cfg.log.tensorboard = False, False
    cfg.data.datasets = [
        DatasetConfig(name="interleaved", paths=shards["interleaved"], batch_size=2),
        DatasetConfig(name="pairs", paths=shards["pairs"], kind="pair", weight=0.2, batch_size=4),
    ]
    return cfg


def _batches(cfg, comp, n: int) -> dict[str, list[dict]]:
    from train.dist import DistInfo
    from train.loop import build_streams

    return {s.name: [next(s) for _ in range(n)] for s in build_streams(cfg, comp, DistInfo())}


def _run(cfg, comp, init: dict, batches: dict, precision: str) -> tuple[float, list[float]]:
    from train.loop import train

    comp.model.load_trainable(init)
    cfg.precision = precision
    streams = [ListStream(name, b) for name, b in batches.items()]
    result = train(cfg, comp, streams=streams)
    per_step = [t[0] for t in result.timings[2:]]  # the first steps warm allocator and caches
    return statistics.median(per_step), result.losses


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--gemm-only", action="store_true", help="print the GEMM line and stop")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads; 0: default")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from bench.train import make_shards
    from train import precision as tprec
    from train.components import build_components

    fp32_ms, bf16_ms = gemm_ms()
    auto = tprec.resolve("auto", torch.device("cpu"))
    print(
        f"GEMM 512x576x1536: fp32 {fp32_ms:.2f} ms, bf16 autocast {bf16_ms:.2f} ms; auto -> {auto}"
    )
    if args.gemm_only:
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="bench-precision-"))
    shards = make_shards(tmp / "shards", per_shard=16)
    cfg = _config(args.preset, shards, tmp / "ckpt", args.steps)
    comp = build_components(cfg.model.preset)
    init = {k: v.clone() for k, v in comp.model.trainable_state_dict().items()}
    batches = _batches(cfg, comp, args.steps)
    runs = {"fp32": [], "bf16": []}
    for precision in ("fp32", "bf16", "bf16", "fp32"):
        secs, losses = _run(cfg, comp, init, batches, precision)
        runs[precision].append((secs, losses))
        print(f"{precision}: {secs:.3f} s/step  losses {losses[0]:.4f} -> {losses[-1]:.4f}")
    fp32 = statistics.mean(s for s, _ in runs["fp32"])
    bf16 = statistics.mean(s for s, _ in runs["bf16"])
    gap = max(abs(a - b) for a, b in zip(runs["fp32"][0][1], runs["bf16"][0][1]))
    print(
        f"preset {args.preset}, {torch.get_num_threads()} threads: fp32 {fp32:.3f} s/step, "
        f"bf16 {bf16:.3f} s/step, speed bf16/fp32 x{fp32 / bf16:.2f}; max |loss gap| {gap:.4f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
