"""Padded image slots: encoding only the real images vs every slot of the padded batch.

A batch of 8 rows, one with 5 images and seven with 1: collated to (8, 5) slots, 40 slots for 12
real images. Before, the vision tower and the Perceiver ran on all 40; now only on the 12 (the
model counts each row's ``<image>`` tokens). Times a training step's forward + backward of the
whole model both ways, alternating, on CPU, and checks the two give the same loss.

Model: the demo preset's vision tower (a random ViT, 224 px, patch 32, width 384, 6 layers) and
Perceiver (2 layers, 16 latents), over the tiny preset's LM, so the image side has a realistic
share of the work. Usage (repo root): python bench/image_slots.py [--steps 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def model_config():
    from flamingo.config import PRESETS

    demo, cfg = PRESETS.get("demo"), PRESETS.get("tiny")
    cfg.vision = demo.vision
    for k in ("perceiver_depth", "perceiver_latents", "perceiver_heads"):
        setattr(cfg, k, getattr(demo, k))
    return cfg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import torch

    from flamingo.factory import build_flamingo

    torch.set_num_threads(args.threads)
    model, tok, _ = build_flamingo(model_config())
    model.train()
    image = model.token_ids.image
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 256, (8, 64), generator=g)
    ids[:, 0] = image
    for k in range(1, 5):
        ids[0, 12 * k] = image  # row 0: 5 images; rows 1-7: 1
    labels = ids.masked_fill(ids == image, -100)
    size = model.vision.visual.image_size
    size = size[0] if isinstance(size, tuple) else size
    images = torch.randn(8, 5, 1, 3, size, size, generator=g)
    real = int((ids == image).sum())

    def step(skip: bool) -> tuple[float, float]:
        model.zero_grad(set_to_none=True)
        t = time.perf_counter()
        if skip:
            loss = model(ids, images, labels=labels).loss
        else:  # every slot, as before: encode_images without per-row counts
            every = model.encode_images
            with mock.patch.object(model, "encode_images", lambda im, counts=None: every(im)):
                loss = model(ids, images, labels=labels).loss
        loss.backward()
        return time.perf_counter() - t, loss.item()

    step(True), step(False)  # warm-up
    times: dict[bool, list[float]] = {True: [], False: []}
    losses = {}
    for _ in range(args.steps):
        for skip in (True, False):
            s, losses[skip] = step(skip)
            times[skip].append(s)
    ours, before = statistics.median(times[True]), statistics.median(times[False])
    print(json.dumps({
        "slots": images.shape[0] * images.shape[1], "real_images": real, "threads": torch.get_num_threads(),
        "step_ms_real_only": round(1000 * ours, 1), "step_ms_every_slot": round(1000 * before, 1),
        "speedup": round(before / ours, 2), "loss_real_only": losses[True], "loss_every_slot": losses[False],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
