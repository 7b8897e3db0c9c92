"""Training-step time and peak memory of a ~1B Flamingo in bf16 on one GPU.

Backbones are randomly initialised at the real sizes (no downloads: the GPU machine
is offline): a ViT-L-14 open_clip tower and a TinyLlama-1.1B-shaped Llama (width
2048, 22 layers, 32 heads, 4 KV heads, MLP 5632, vocab 32000), with the paper's
Perceiver (depth 6, 64 latents) and gated cross-attention before every layer
(Flamingo-3B's layout; ``--every 4`` for Flamingo-9B's). A step is forward, loss,
backward and an AdamW update, everything in bf16, on M3W-shaped batches (256 tokens,
5 images). Prints one JSON line. ``--tiny`` runs the same path with the tiny preset
on CPU (what the test suite does).

Run: ``bash bench/gpu_model.sh`` (or ``python bench/gpu_model.py --help``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch


def config_for(args):
    from flamingo.config import PRESETS, TINYLLAMA_1B_SHAPE, LMConfig, VisionConfig

    if args.tiny:
        return PRESETS.get("tiny")
    config = PRESETS.get("flamingo-3b-like")
    config.vision = VisionConfig(model_name="ViT-L-14", pretrained=None, dtype="bfloat16")
    config.lm = LMConfig(config=dict(TINYLLAMA_1B_SHAPE), tokenizer="bytes", dtype="bfloat16")
    config.cross_attn_every = args.every
    return config


def make_batch(model, args, image_size, device):
    from flamingo.tokens import make_labels

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 256, (args.batch, args.seq), generator=g)
    image_id = model.token_ids.image
    for k in range(args.images):  # an <image> at the start of each of `images` equal chunks
        ids[:, k * args.seq // args.images] = image_id
    pixels = torch.randn(args.batch, args.images, 1, 3, image_size, image_size, generator=g)
    return ids.to(device), pixels.to(device), make_labels(ids, model.token_ids).to(device)


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tiny", action="store_true", help="tiny preset on CPU (a smoke test of this script)"
    )
    parser.add_argument("--every", type=int, default=1, help="cross-attention every N LM layers")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--checkpointing", action="store_true", help="activation checkpointing per layer"
    )
    args = parser.parse_args(argv)

    from flamingo.factory import build_flamingo

    device = torch.device("cpu" if args.tiny or not torch.cuda.is_available() else "cuda")
    dtype = torch.float32 if args.tiny else torch.bfloat16
    t0 = time.perf_counter()
    model, _, _ = build_flamingo(config_for(args))
    build_s = time.perf_counter() - t0
    model.to(device=device, dtype=dtype).train()
    model.enable_gradient_checkpointing(args.checkpointing)
    optimizer = torch.optim.AdamW(model.param_groups(0.1), lr=1e-4)
    size = model.vision.visual.image_size
    ids, pixels, labels = make_batch(
        model, args, size if isinstance(size, int) else size[0], device
    )
    pixels = pixels.to(dtype)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    times, losses = [], []
    for i in range(args.warmup + args.steps):
        if i == args.warmup and device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        sync()
        start = time.perf_counter()
        loss = model(ids, pixels, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
            losses.append(float(loss.detach()))
    step_s = statistics.median(times)
    from train.telemetry import PEAK_BF16, flop_model, step_flops

    media = args.batch * args.images  # every slot holds an image, every token is real: nothing padded
    flops = step_flops(flop_model(model), args.batch * args.seq, media, media)
    name = torch.cuda.get_device_name() if device.type == "cuda" else ""
    peak = next((v for frag, v in PEAK_BF16.items() if frag in name), 0.0)
    result = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "dtype": str(dtype),
        "cross_attn_every": args.every,
        "batch": args.batch,
        "seq": args.seq,
        "images": args.images,
        "checkpointing": args.checkpointing,
        "params_total": sum(p.numel() for p in model.parameters()),
        "params_trainable": model.num_trainable_parameters(),
        "build_s": round(build_s, 1),
        "step_s_median": step_s,
        "tokens_per_s": args.batch * args.seq / step_s,
        "flops_per_step": flops,  # train/telemetry.py's count (what runs)
        "mfu": flops / step_s / peak if peak else None,  # against the datasheet bf16 peak
        "losses": losses,
        "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30
        if device.type == "cuda"
        else None,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    run()
