"""Which frozen random vision tower lets a Perceiver read colour, shape and count? A fast probe.

For each tower (an open_clip ``CLIPVisionCfg`` dict, random and frozen, as the ``see`` preset's):
its patch tokens of a synthetic shapes benchmark (``train.eval.synthetic``) -> a Perceiver
Resampler of the ``see`` model's shape (depth 2, 16 latents, 6 heads of 64) -> three linear
classifiers (colour, shape, count) on its flattened latents, trained with AdamW (lr 1e-3) on
batches of 16 train images; accuracy on the held-out split. Minutes on a CPU, where one
learns-to-see training run takes ten: the probe ranks towers (and generator settings) before a
full run. It is not the Flamingo path (no LM, no cross-attention, a classification loss).

Usage (repo root): python bench/see_probe.py BENCH_DIR [--steps 600] [--towers JSON]
(BENCH_DIR: a benchmark ``train.eval.synthetic.write_benchmark`` wrote.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def default_towers() -> dict[str, dict]:
    """The see preset's tower and the same over 16-pixel patches (a 7x7 grid)."""
    from flamingo.config import PRESETS

    see = PRESETS.get("see").vision.custom
    return {"see": see, "see, 16-px patches": {**see, "patch_size": 16}}


def tokens(tower, transform, folder: str, entries: list[dict]):
    """(N, v, Dv) frozen patch tokens of the entries' images."""
    import torch
    from PIL import Image

    out = []
    for i in range(0, len(entries), 50):
        x = torch.stack([transform(Image.open(f"{folder}/images/{e['filename']}").convert("RGB"))
                         for e in entries[i:i + 50]])
        out.append(tower(x[:, None, None])[:, 0, 0])  # (n, 1, 1, v, Dv) -> (n, v, Dv)
    return torch.cat(out)


def labels(entries: list[dict]):
    import torch

    from train.eval.synthetic import COLOURS, SHAPES

    return torch.tensor([[sorted(COLOURS).index(e["scene"]["colour"]), SHAPES.index(e["scene"]["shape"]),
                          e["scene"]["count"] - 1] for e in entries])  # (N, 3)


def probe(train_x, train_y, test_x, test_y, steps: int, seed: int) -> list[float]:
    """Held-out accuracy of colour, shape and count after ``steps`` steps."""
    import torch
    from torch import nn

    from flamingo.perceiver import PerceiverResampler

    torch.manual_seed(seed)
    dim, latents = train_x.shape[-1], 16
    perceiver = PerceiverResampler(dim=dim, depth=2, num_latents=latents, heads=6, dim_head=64)
    head = nn.Linear(latents * dim, 4 + 3 + 3)
    opt = torch.optim.AdamW([*perceiver.parameters(), *head.parameters()], lr=1e-3, weight_decay=0.0)
    splits = ((0, 4), (4, 7), (7, 10))

    def logits(x):  # x (N, v, Dv) -> (N, 10)
        return head(perceiver(x[:, None, None]).flatten(1))

    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(train_x), (16,), generator=g)
        out, y = logits(train_x[idx]), train_y[idx]
        loss = sum(nn.functional.cross_entropy(out[:, a:b], y[:, k]) for k, (a, b) in enumerate(splits))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        out = logits(test_x)
    return [(out[:, a:b].argmax(-1) == test_y[:, k]).float().mean().item() for k, (a, b) in enumerate(splits)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bench")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--towers", default="", help="JSON {name: CLIPVisionCfg dict} (default: the see tower vs 16-px patches)")
    a = p.parse_args()
    import torch

    from flamingo.config import VisionConfig
    from flamingo.vision import VisionEncoder, build_open_clip_tower
    from train.eval.synthetic import ANNOTATION_FILE

    entries = json.loads(Path(a.bench, ANNOTATION_FILE).read_text())["images"]
    train = [e for e in entries if e["split"] == "train"]
    test = [e for e in entries if e["split"] == "test"]
    print(f"{a.bench}: {len(train)} train, {len(test)} held-out images; {a.steps} steps of 16\n")
    print("| tower | patch tokens | seed | colour | shape | count | s |\n|---|---|---|---|---|---|---|")
    for name, custom in (json.loads(a.towers) if a.towers else default_towers()).items():
        torch.manual_seed(0)
        visual, transform = build_open_clip_tower(VisionConfig(model_name=name, custom=custom))
        tower = VisionEncoder(visual)
        train_x, test_x = tokens(tower, transform, a.bench, train), tokens(tower, transform, a.bench, test)
        for seed in range(a.seeds):
            t0 = time.time()
            acc = probe(train_x, labels(train), test_x, labels(test), a.steps, seed)
            print(f"| {name} | {train_x.shape[1]} | {seed} | " + " | ".join(f"{v:.2f}" for v in acc)
                  + f" | {time.time() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main()
