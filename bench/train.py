"""Trainer throughput, one run: can the data loader keep up with the model, and how fast is a step?

Prints, on the same config, in ``--rounds`` rounds (loader then model, back to back, so each
round's ratio compares measurements under the same machine load; the load average is printed):
  * loader samples/s: the shard streams alone (decode, window, tokenise, preprocess, collate),
    drawn as the trainer draws them (a batch of every dataset per step, so the datasets' loader
    workers work side by side), and as a baseline the same streams decoding JPEGs at full size;
  * model samples/s: training steps on batches already in memory (no loading at all);
  * their ratio (loader / model; below 1 the loader is the bottleneck), with its spread;
  * the full trainer on the streams: tokens/s, images/s, data-wait fraction and MFU (FLOPs as
    documented in train/telemetry.py: frozen LM forward and backward through activations,
    trainable parts forward and backward, Perceiver per image, vision tower forward only).

The shards are written into a temporary directory from photos scikit-image ships
(resized to --image-px JPEGs, default 512, about web-image size), since ../shared/data holds no
training shards. Usage (repo root): python bench/train.py [--size tiny] [--steps 30] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_shards(
    root: Path, n_shards: int = 2, per_shard: int = 64, px: int = 512
) -> dict[str, list[str]]:
    from PIL import Image
    from skimage import data

    from pipeline.shards import format as sf
    from pipeline.shards.writer import write_shard

    photos = []
    for arr in (data.astronaut(), data.coffee(), data.chelsea(), data.rocket()):
        buf = io.BytesIO()
        Image.fromarray(arr).convert("RGB").resize((px, px)).save(buf, format="JPEG", quality=85)
        photos.append(buf.getvalue())
    words = [
        "the",
        "a",
        "photo",
        "of",
        "cat",
        "rocket",
        "coffee",
        "cup",
        "person",
        "space",
        "orange",
        "table",
        "sits",
        "near",
        "with",
    ]
    rng = random.Random(0)
    def text(n):
        return " ".join(rng.choice(words) for _ in range(n)) + ". "

    def interleaved(s, i):
        segs, imgs = [sf.TextSegment(text(2))], []  # an image early: rows cut to --max-tokens keep one
        for k in range(1 + i % 4):
            d = rng.choice(photos)
            imgs.append(sf.ImageRef(f"u{k}", sf.sha256_hex(d), px, px, data=d))
            segs += [sf.ImageSlot(k), sf.TextSegment(text(40))]
        key = sf.make_key("i", s, i)
        return sf.InterleavedSample(
            key=key,
            url="u",
            doc_id=key,
            seq_index=0,
            num_tokens=0,
            tokenizer="",  # not counted: the trainer holds rows to data.max_tokens (truncating, see config)
            segments=segs,
            images=imgs,
        )

    def pair(s, i):
        d = rng.choice(photos)
        return sf.PairSample(
            key=sf.make_key("p", s, i),
            url="u",
            caption=text(12),
            image=d,
            width=px,
            height=px,
            sha256=sf.sha256_hex(d),
        )

    out = {"interleaved": [], "pairs": []}
    for s in range(n_shards):
        for kind, fn in (("interleaved", interleaved), ("pairs", pair)):
            write_shard(str(root / kind), f"{kind}-{s:05d}", (fn(s, i) for i in range(per_shard)))
            out[kind].append(str(root / kind / f"{kind}-{s:05d}.tar"))
    return out


def image_costs(shards: dict, tower_size: int) -> list[str]:
    """Thread CPU per image of ``decode_image`` + the tower's eval transform, at full size and at
    the reduced JPEG scale, for this run's tower and for a 224 px one (CLIP ViT-L/14)."""
    import open_clip

    from pipeline.shards import reader
    from train.collate import decode_image

    try:
        from train.preprocess import fast_eval_transform
    except ImportError:  # a tree from before issue 18 (run from a copy of this script)

        def fast_eval_transform(transform):
            return transform

    with reader.open_shard(shards["pairs"][0]) as f:
        photos = [raw.members["jpg"] for raw, _ in zip(reader.iter_raw(f), range(16))]
    out = []
    for size in dict.fromkeys((tower_size, 224)):
        transform = fast_eval_transform(open_clip.image_transform(size, is_train=False))
        for label, min_size in (("full", None), ("reduced", size)):
            c = time.thread_time()
            for _ in range(5):
                for data in photos:
                    transform(decode_image(data, min_size))
            out.append(f"{size}px tower, {label} decode {1e3 * (time.thread_time() - c) / (5 * len(photos)):.2f} ms")
    return out


def model_config(size: str):
    """``tiny`` (flamingo's preset) or ``1b``: random-init TinyLlama-1.1B-shaped LM (bf16,
    frozen) + ViT-L/14-shaped tower, cross-attention before every 4th layer. Random weights
    cost the same FLOPs as trained ones, and nothing needs downloading."""
    from flamingo.config import (
        BYTE_TOKENIZER,
        PRESETS,
        TINYLLAMA_1B_SHAPE,
        FlamingoConfig,
        LMConfig,
        VisionConfig,
    )

    if size == "tiny":
        return PRESETS.get("tiny")
    vit_l = {
        "image_size": 224,
        "patch_size": 14,
        "width": 1024,
        "layers": 24,
        "head_width": 64,
        "mlp_ratio": 4.0,
    }
    return FlamingoConfig(
        vision=VisionConfig(model_name="vit-l-14-random", custom=vit_l, dtype="bfloat16"),
        lm=LMConfig(config=dict(TINYLLAMA_1B_SHAPE), tokenizer=BYTE_TOKENIZER, dtype="bfloat16"),
        cross_attn_every=4,
    )


def config(args, shards: dict, out: Path, steps: int):
    from flamingo.config import PRESETS as MODEL_PRESETS
    from train.config import PRESETS as TRAIN_PRESETS
    from train.config import DatasetConfig

    cfg = TRAIN_PRESETS.get("tiny")
    cfg.model.preset = f"bench-{args.size}"
    if cfg.model.preset not in MODEL_PRESETS:
        MODEL_PRESETS.add(cfg.model.preset, model_config(args.size))  # so the config checks name it
    cfg.steps, cfg.device, cfg.precision, cfg.compile = (
        steps,
        args.device,
        args.precision,
        args.compile,
    )
    cfg.activation_checkpointing = args.activation_checkpointing
    cfg.data.max_tokens = args.max_tokens
    cfg.data.truncate = True  # the bench's sequences are written longer than --max-tokens: cut, counted
    workers = args.workers
    cfg.checkpoint.dir, cfg.checkpoint.every = str(out / "ckpt"), 0
    cfg.log.every, cfg.log.progress, cfg.log.jsonl = steps, False, True
    cfg.data.num_workers = workers
    cfg.data.datasets = [
        DatasetConfig(
            name="interleaved",
            paths=shards["interleaved"],
            kind="interleaved",
            weight=1.0,
            batch_size=args.batch,
        ),
        DatasetConfig(
            name="pairs", paths=shards["pairs"], kind="pair", weight=0.2, batch_size=2 * args.batch
        ),
    ]
    return cfg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="tiny", choices=["tiny", "1b"], help="model size")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--batch", type=int, default=4, help="interleaved rows per step (pairs: twice)")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--activation-checkpointing", action="store_true")
    ap.add_argument(
        "--image-px", type=int, default=512, help="side of the JPEGs in the bench shards"
    )
    ap.add_argument(
        "--shard-samples", type=int, default=64, help="samples per shard (2 shards per kind)"
    )
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--workers", type=int, default=1, help="loader worker processes per dataset")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads for the model")
    ap.add_argument("--rounds", type=int, default=3, help="loader and model measured back to back, this often")
    ap.add_argument("--loader-batches", type=int, default=100, help="batches per dataset in a loader measurement")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import torch

    torch.set_num_threads(args.threads)
    from train.components import build_components
    from train.dist import DistInfo
    from train.loop import build_streams, train

    tmp = Path(tempfile.mkdtemp(prefix="bench-train-"))
    shards = make_shards(tmp / "shards", per_shard=args.shard_samples, px=args.image_px)
    cfg = config(args, shards, tmp, args.steps)
    comp = build_components(model_config(args.size))
    warm = 3

    # 1. The loader alone, drawn as the trainer draws (one batch of each dataset per step, so every
    #    dataset's workers produce in parallel); as its baseline, the same loader decoding JPEGs at
    #    full size. 2. The model alone, on the same batches already in memory. Repeated in rounds,
    #    loader and model back to back, so each ratio compares measurements under the same load.
    samples = sum(ds.batch_size for ds in cfg.data.datasets) * args.loader_batches

    def load(comp, image_size):
        comp.image_size = image_size
        streams = build_streams(cfg, comp, DistInfo())
        for s in streams:
            next(s)  # start workers, fill the shuffle buffer
        t = time.perf_counter()
        batches = {s.name: [] for s in streams}
        for _ in range(args.loader_batches):
            for s in streams:
                batches[s.name].append(next(s))
        return batches, samples / (time.perf_counter() - t)

    class Cached:
        def __init__(self, name, batches, clock=None):
            self.name, self.batches, self.i, self.clock = name, batches, 0, clock

        def __next__(self):
            if self.clock is not None:  # the main thread's CPU time at the start of each step
                self.clock.append(time.thread_time())
            self.i += 1
            return self.batches[(self.i - 1) % len(self.batches)]

        def state(self):
            return {}

        def load_state(self, states):
            return True

        def dropped_total(self):
            return {}

    tower_size = comp.image_size
    rounds, model_cpu = [], []
    for r in range(args.rounds):
        load0 = os.getloadavg()[0]
        _, full_rate = load(comp, None)
        cached, loader_rate = load(comp, tower_size)
        cfg_model = config(args, shards, tmp / f"m{r}", args.steps)
        clock = []
        names = list(cached)
        streams = [Cached(n, cached[n], clock if i == 0 else None) for i, n in enumerate(names)]
        timed = train(cfg_model, comp, streams=streams).timings[warm:]
        model_rate = sum(x[3] for x in timed) / sum(x[0] for x in timed)
        # CPU per trained sample, steps warm+1 .. N-1 (between the first stream's draws)
        model_cpu.append((clock[-1] - clock[warm]) / sum(x[3] for x in timed[:-1]))
        rounds.append((loader_rate, full_rate, model_rate, load0, os.getloadavg()[0]))
        print(
            f"round {r + 1}: loader {loader_rate:7.1f} samples/s (full-size decoding {full_rate:7.1f}), "
            f"model {model_rate:6.1f} samples/s, ratio {loader_rate / model_rate:5.2f}, "
            f"load {load0:.1f}-{os.getloadavg()[0]:.1f}",
            flush=True,
        )

    def spread(values):
        return f"{min(values):.2f}-{max(values):.2f} (median {statistics.median(values):.2f})"

    # Sizing a loader for a faster model: one worker's CPU per sample (the streams in this process,
    # thread CPU time), and what one image costs to decode and preprocess at tower sizes.
    sizing_workers, cfg.data.num_workers = cfg.data.num_workers, 0
    comp.image_size = tower_size
    per_sample = {}
    for s in build_streams(cfg, comp, DistInfo()):
        next(s)
        c = time.thread_time()
        n = sum(next(s)["input_ids"].shape[0] for _ in range(args.loader_batches))
        per_sample[s.name] = (time.thread_time() - c) / n
    cfg.data.num_workers = sizing_workers
    print("sizing (one loader worker, thread CPU): " + ", ".join(
        f"{name} {1e3 * v:.2f} ms/sample = {1 / v:.0f} samples/s per worker" for name, v in per_sample.items()))
    print("decode + preprocess one " + f"{args.image_px}px JPEG: " + "; ".join(image_costs(shards, tower_size)))
    # Steps/s the loader can feed by CPU alone: each dataset's workers make its batch of a step.
    step_cpu = max(ds.batch_size * per_sample[ds.name] / max(1, args.workers) for ds in cfg.data.datasets)
    per_step = sum(ds.batch_size for ds in cfg.data.datasets)
    print(
        f"model CPU per sample {spread([1e3 * c for c in model_cpu])} ms; loader capacity by CPU (a core per "
        f"worker) / model consumption: {spread([c * per_step / step_cpu for c in model_cpu])}"
    )

    # 3. The full trainer on the streams (a fresh model: its first steps include warm-up).
    cfg.log.every = args.steps
    del comp, cached  # free the first model (GPU memory) before building the second
    fresh = build_components(model_config(args.size))
    res = train(cfg, fresh)
    steady = res.timings[warm:]  # leave out the first steps' one-off warm-up
    secs = sum(x[0] for x in steady)
    tok, img, smp, wait = (sum(x[i] for x in steady) for i in (1, 2, 3, 4))
    from train.telemetry import flop_model, step_flops

    counts = flop_model(fresh.model)
    flops = sum(step_flops(counts, x[1], x[2], x[5]) for x in steady)
    print(
        f"size={args.size} device={args.device} precision={args.precision} batch={args.batch}+{2 * args.batch} "
        f"max_tokens={args.max_tokens} steps={args.steps} workers/dataset={args.workers} torch threads={torch.get_num_threads()}"
    )
    loader, full, model = ([x[i] for x in rounds] for i in range(3))
    loads = [x for r in rounds for x in r[3:]]
    print(f"load average (1-min) {min(loads):.1f}-{max(loads):.1f} over {args.rounds} round(s)")
    print(f"loader samples/s : {spread(loader)}   (JPEGs decoded at reduced scale >= {tower_size}px)")
    print(f"  full-size JPEG decoding: {spread(full)}, ours x{spread([a / b for a, b in zip(loader, full)])}")
    print(f"model  samples/s : {spread(model)}   (steps on in-memory batches)")
    print(
        f"ratio loader/model: {spread([a / b for a, b in zip(loader, model)])}   "
        "(>1: the loader is not the bottleneck; target >= 5)"
    )
    print(
        f"full trainer (steps {warm + 1}..{args.steps}): tokens/s {tok / secs:.0f}  images/s {img / secs:.1f}  "
        f"samples/s {smp / secs:.1f}  data-wait {100 * wait / secs:.1f}%  "
        f"MFU {100 * flops / secs / res.peak_flops:.2f}% of {res.peak_flops / 1e9:.1f} GFLOP/s"
    )
    print(f"final loss {res.losses[-1]:.4f} (first {res.losses[0]:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
