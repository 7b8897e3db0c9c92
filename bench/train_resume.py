"""Resume cost against training length: how long until a resumed run has its first batches, after
10 and after 1,000 steps (trainer issue, item 4: within 1.5x).

Trains the ``tiny`` preset on CPU for ``--steps`` steps (default 1000) with a checkpoint every 10,
on shards written here (2 x 4 shards of 64 samples, 256 px JPEGs), then for each of step 10 and the
last step, resumes a fresh run from that checkpoint alone and times its phases: setup (model,
optimiser, streams), ``resume()`` (checks, weights, AdamW, RNG, data positions) and the first batch
of every dataset (the data streams seek to their positions). Each resume is repeated ``--repeats``
times; medians are printed as one JSON line.

It runs against whatever ``train`` package is first on the path, so the same protocol times an
older tree (``git archive <commit> | tar -x -C /tmp/base; PYTHONPATH=/tmp/base python
bench/train_resume.py``), as long as it has ``train.loop._setup`` and ``_Run.resume``.
Usage (repo root): python bench/train_resume.py [--steps 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if p != _HERE]  # bench/train.py would shadow the train package
if "--use-path" not in sys.argv:  # default: this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_shards(root: Path, n_shards: int = 4, per_shard: int = 64, px: int = 256) -> dict[str, list[str]]:
    from PIL import Image
    from skimage import data

    from pipeline.shards import format as sf
    from pipeline.shards.writer import write_shard

    photos = []
    for arr in (data.astronaut(), data.coffee(), data.chelsea(), data.rocket()):
        buf = io.BytesIO()
        Image.fromarray(arr).convert("RGB").resize((px, px)).save(buf, format="JPEG", quality=85)
        photos.append(buf.getvalue())
    rng = random.Random(0)
    words = "the a photo of cat rocket coffee cup person space".split()

    def text(n):
        return " ".join(rng.choice(words) for _ in range(n)) + ". "

    def interleaved(s, i):  # short enough for the tiny preset's 64-token rows
        segs, imgs = [sf.TextSegment(text(2))], []
        for k in range(1 + i % 2):
            d = rng.choice(photos)
            imgs.append(sf.ImageRef(f"u{k}", sf.sha256_hex(d), px, px, data=d))
            segs += [sf.ImageSlot(k), sf.TextSegment(text(3))]
        key = sf.make_key("i", s, i)
        return sf.InterleavedSample(key=key, url="u", doc_id=key, seq_index=0, num_tokens=0, tokenizer="bytes",
                                    segments=segs, images=imgs)

    def pair(s, i):
        d = rng.choice(photos)
        return sf.PairSample(key=sf.make_key("p", s, i), url="u", caption=text(5), image=d, width=px, height=px,
                             sha256=sf.sha256_hex(d))

    out: dict[str, list[str]] = {"interleaved": [], "pairs": []}
    for s in range(n_shards):
        for kind, fn in (("interleaved", interleaved), ("pairs", pair)):
            write_shard(str(root / kind), f"{kind}-{s:05d}", (fn(s, i) for i in range(per_shard)))
            out[kind].append(str(root / kind / f"{kind}-{s:05d}.tar"))
    return out


def config(shards: dict, out: Path, steps: int):
    from train.config import PRESETS, DatasetConfig

    cfg = PRESETS.get("tiny")
    cfg.steps, cfg.device = steps, "cpu"
    cfg.checkpoint.dir, cfg.checkpoint.every, cfg.checkpoint.keep_last = str(out), 10, 100_000
    cfg.log.every, cfg.log.progress = 100, False
    cfg.data.datasets = [
        DatasetConfig(name="interleaved", paths=shards["interleaved"], kind="interleaved", weight=1.0, batch_size=2),
        DatasetConfig(name="pairs", paths=shards["pairs"], kind="pair", weight=0.2, batch_size=4),
    ]
    return cfg


def time_resume(cfg, comp_factory) -> dict[str, float]:
    """Seconds for setup, resume() and the first batch of every dataset, in a fresh run."""
    from train import loop

    comp = comp_factory()
    t0 = time.perf_counter()
    run = loop._setup(cfg, comp, None)
    t1 = time.perf_counter()
    run.resume()
    t2 = time.perf_counter()
    for s in run.streams:
        next(s)
    t3 = time.perf_counter()
    assert run.start == cfg.steps - 1, (run.start, cfg.steps)
    return {"setup_s": t1 - t0, "resume_s": t2 - t1, "first_batches_s": t3 - t2, "total_s": t3 - t0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--label", default="this tree")
    ap.add_argument("--use-path", action="store_true", help="import train from PYTHONPATH, not this checkout")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    import torch

    torch.set_num_threads(args.threads)
    from train.components import build_components
    from train.loop import train

    tmp = Path(tempfile.mkdtemp(prefix="bench-resume-"))
    shards = make_shards(tmp / "shards")
    t = time.perf_counter()
    train(config(shards, tmp / "run", args.steps), build_components("tiny"))
    train_s = time.perf_counter() - t
    out = {"label": args.label, "train_steps": args.steps, "train_s": round(train_s, 1)}
    for at in (10, args.steps):
        runs = []
        for _ in range(args.repeats):
            d = tmp / f"resume-{at}"
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
            shutil.copytree(tmp / "run" / f"step_{at:08d}", d / f"step_{at:08d}")
            cfg = config(shards, d, at + 1)
            cfg.checkpoint.resume = True
            runs.append(time_resume(cfg, lambda: build_components("tiny")))
        out[f"after_{at}"] = {k: round(statistics.median(r[k] for r in runs), 4) for k in runs[0]}
    a, b = out["after_10"], out[f"after_{args.steps}"]
    out["ratio_total"] = round(b["total_s"] / a["total_s"], 3)
    out["ratio_resume_and_first_batches"] = round(
        (b["resume_s"] + b["first_batches_s"]) / (a["resume_s"] + a["first_batches_s"]), 3)
    print(json.dumps(out))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
