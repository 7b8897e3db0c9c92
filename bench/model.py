"""Ours vs Hugging Face's IdeficsForVisionText2Text: forward+backward time and peak memory, CPU.

Both models are built at one matched small configuration (random init, offline):
the same Llama-style LM (width, depth, heads, MLP size), cross-attention every 2nd
layer from the first, the same Perceiver Resampler (depth 6, 64 latents, heads,
head size), the same ViT (width, depth, patch, image size), batch, sequence length
and images per row. The cross-attention dense block is sized to the same FLOPs: ours
is a 2-matrix GELU MLP with 4*D, IDEFICS's a 3-matrix SwiGLU with 8/3*D (D=384: 1024).
Vocabulary: 257 base tokens + 3 added ones on both sides (the new-rows path is
exercised in both). The loss is computed outside both models with the same function
(IDEFICS's built-in loss breaks when ``additional_vocab_size > 0`` in transformers 5).

Baseline: IDEFICS with transformers' default attention (SDPA) and with its eager attention,
both run side by side with ours: on a CPU in bf16 SDPA's kernels are the slower ones.
Precision (``--precision``): fp32, or bf16 autocast over fp32 weights on every side (our
trainer's ``precision=bf16``, transformers' Trainer with ``bf16=True``); in bf16 ours stores
its frozen vision tower in bf16 (``VisionConfig.dtype``, as the 3B/9B presets do).

Time: steps of the models alternate in one process (so machine load hits them alike);
the median of ``--steps`` steps after warm-up is reported, with the spread of the
per-step ratios, the CPU-time ratio (steadier when other jobs load the machine), each
model's FLOPs per step (``torch.utils.flop_counter``: the same work on both sides) and the
load average.
Peak memory: each model in its own fresh child process; after building it the
kernel's peak-RSS mark is reset (``/proc/self/clear_refs``), and we report the peak
RSS during the first fwd+bwd step minus the RSS before it (resident memory: it sees
torch's CPU allocations, which tracemalloc cannot).

Compiled (``--compile``): ours through ``Flamingo.compile``, what the trainer's ``--compile true``
runs (each cross-attention + LM layer block and the Perceiver compiled by ``torch.compile``, the
rest eager), beside the two eager baselines and ``idefics-compiled``: IDEFICS's repeated blocks
and Perceiver compiled by the same recipe, so a gain that is only the compiler's shows. FLOPs are
counted on the eager modules, memory in children without compiling. Compiling takes ~20 s here.

Padded image slots: ``--image-counts 1,2,3,5 --seq 256`` gives row r counts[r] images in
max(counts) slots (collated M3W rows); ours encodes only the real ones, IDEFICS every slot.

Run: ``python bench/model.py [--precision bf16] [--threads 2] [--compile]`` (one to two minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import torch

SHAPE = dict(  # noqa: C408  (keyword form reads as a table)
    hidden=384,
    layers=8,
    heads=6,
    mlp=1024,
    every=2,
    vit_width=256,
    vit_layers=4,
    vit_heads=4,
    image=112,
    patch=16,
    depth=6,
    latents=64,
    p_heads=4,
    p_head_dim=64,
    batch=4,
    seq=128,
    images=2,
)
BASE_VOCAB, NEW_TOKENS = 257, 3


def build_ours(precision="fp32"):
    """Ours. In bf16 the frozen tower is stored in bf16 (``VisionConfig.dtype``, as the 3B/9B
    presets do): bf16 autocast would compute it in bf16 anyway, so that takes only the casts away."""
    from flamingo.config import FlamingoConfig, LMConfig, VisionConfig
    from flamingo.factory import build_flamingo

    s = SHAPE
    lm = {
        "model_type": "llama",
        "vocab_size": BASE_VOCAB,
        "hidden_size": s["hidden"],
        "intermediate_size": s["mlp"],
        "num_hidden_layers": s["layers"],
        "num_attention_heads": s["heads"],
        "num_key_value_heads": s["heads"],
        "tie_word_embeddings": False,
    }
    vit = {
        "image_size": s["image"],
        "patch_size": s["patch"],
        "width": s["vit_width"],
        "layers": s["vit_layers"],
        "head_width": s["vit_width"] // s["vit_heads"],
        "mlp_ratio": 4.0,
    }
    config = FlamingoConfig(
        vision=VisionConfig(model_name="bench-vit", custom=vit,
                            dtype="bfloat16" if precision == "bf16" else "float32"),
        lm=LMConfig(config=lm, tokenizer="bytes"),
        perceiver_depth=s["depth"],
        perceiver_latents=s["latents"],
        perceiver_heads=s["p_heads"],
        perceiver_dim_head=s["p_head_dim"],
        cross_attn_every=s["every"],
        cross_attn_ff_mult=4,
    )
    model, tok, _ = build_flamingo(config)
    assert len(tok) == BASE_VOCAB + NEW_TOKENS
    return model


def build_idefics(attention="sdpa"):
    """IDEFICS with transformers' default attention (SDPA) or its eager one."""
    from transformers import IdeficsConfig, IdeficsForVisionText2Text

    s = SHAPE
    config = IdeficsConfig(
        vocab_size=BASE_VOCAB,
        additional_vocab_size=NEW_TOKENS,
        hidden_size=s["hidden"],
        intermediate_size=s["mlp"],
        num_hidden_layers=s["layers"],
        num_attention_heads=s["heads"],
        cross_layer_interval=s["every"],
        use_resampler=True,
        freeze_text_layers=True,
        freeze_vision_layers=True,
        freeze_lm_head=True,
        vision_config={
            "embed_dim": s["vit_width"],
            "image_size": s["image"],
            "patch_size": s["patch"],
            "num_hidden_layers": s["vit_layers"],
            "num_attention_heads": s["vit_heads"],
            "intermediate_size": 4 * s["vit_width"],
        },
        perceiver_config={
            "use_resampler": True,
            "resampler_depth": s["depth"],
            "resampler_n_latents": s["latents"],
            "resampler_n_heads": s["p_heads"],
            "resampler_head_dim": s["p_head_dim"],
        },
    )
    config._attn_implementation = attention
    return IdeficsForVisionText2Text(config).train()


def make_batch(counts=None, seq=None):
    """Text with <image> tokens (id 257 in both models), and images.

    Default (the matched configuration): every row has ``images`` images, at positions 0 and L/2.
    ``counts``: row r has counts[r] images, evenly spaced from position 0, in max(counts) slots;
    the slots past a row's count are zero padding, as a collated batch of M3W rows has.
    """
    from flamingo.masking import media_mask, text_time

    s, g = SHAPE, torch.Generator().manual_seed(0)
    seq = seq or s["seq"]
    counts = counts or [s["images"]] * s["batch"]
    ids = torch.randint(0, BASE_VOCAB, (len(counts), seq), generator=g)
    pixels = torch.zeros(len(counts), max(counts), 3, s["image"], s["image"])
    for row, count in enumerate(counts):
        for j in range(count):
            ids[row, j * seq // count] = BASE_VOCAB
            pixels[row, j] = torch.randn(3, s["image"], s["image"], generator=g)
    image_mask = media_mask(text_time(ids, BASE_VOCAB), max(counts)).long()  # (B, L, T)
    return ids, pixels, image_mask


MODELS = ("ours", "idefics", "idefics-eager")  # the baseline with transformers' two attention kernels
COMPILED = "idefics-compiled"  # with --compile: the baseline compiled by the same regional recipe


def build(name, precision):
    if name == "ours":
        return build_ours(precision).train()
    return build_idefics("eager" if name == "idefics-eager" else "sdpa")


def compile_model(name, model):
    """Ours through ``Flamingo.compile`` (the trainer's ``--compile true``: each cross-attention +
    LM layer block and the Perceiver); ``idefics-compiled`` by the same recipe: its repeated blocks
    (decoder layers, gated cross-attention layers) and its Perceiver."""
    if name == "ours":
        model.compile()
    elif name == COMPILED:
        inner = model.model
        for block in (*inner.layers, *inner.gated_cross_attn_layers, inner.perceiver_resampler):
            block.compile()


def autocast(precision):
    """bf16: autocast over fp32 weights on both sides, by our trainer's own rule
    (``train.precision``; transformers' Trainer does the same with ``bf16=True``)."""
    from train.precision import autocast as precision_autocast

    return precision_autocast(precision, torch.device("cpu"))()


def step(name, model, batch, precision="fp32"):
    from flamingo.model import causal_lm_loss

    ids, pixels, image_mask = batch
    with autocast(precision):
        if name == "ours":
            logits = model(ids, pixels[:, :, None]).logits  # frames axis: (B, T, 1, C, H, W)
        else:
            logits = model(
                input_ids=ids, pixel_values=pixels, image_attention_mask=image_mask, use_cache=False
            ).logits
        loss = causal_lm_loss(logits, ids)
    loss.backward()
    model.zero_grad(set_to_none=True)
    return loss


def step_flops(name, model, batch, precision):
    """FLOPs of one fwd+bwd step as torch counts them (matmuls, attention): the same work?"""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step(name, model, batch, precision)
    return counter.get_total_flops()


def counts(model):
    return {
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "total": sum(p.numel() for p in model.parameters()),
    }


def rss_kb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field))


def measure_memory(name, precision, image_counts=None, seq=None):
    """In a fresh child process: peak RSS growth during the first fwd+bwd step, MiB.

    The first step, not a later one: after a step, freed activations stay in the
    allocator's pools and a second step's growth over them says little."""
    model = build(name, precision)
    batch = make_batch(image_counts, seq)
    gc.collect()
    before = rss_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS mark
    step(name, model, batch, precision)
    print(json.dumps({"peak_mib": (rss_kb("VmHWM") - before) / 1024, **counts(model)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="1: stable on a shared machine")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="bf16: autocast on both sides (needs a CPU with bf16 instructions to mean much)")
    parser.add_argument("--image-counts", type=lambda v: [int(c) for c in v.split(",")],
                        help="images per row, e.g. 1,2,3,5: padded slots as in collated M3W rows "
                             "(default: the matched configuration, 2 per row)")
    parser.add_argument("--seq", type=int, help=f"tokens per row (default {SHAPE['seq']})")
    parser.add_argument("--compile", action="store_true",
                        help="ours compiled as the trainer's --compile true does; adds idefics-compiled "
                             "(its blocks compiled the same way); memory is measured uncompiled")
    parser.add_argument("--memory-child", choices=MODELS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.memory_child:
        return measure_memory(args.memory_child, args.precision, args.image_counts, args.seq)
    names = (*MODELS, COMPILED) if args.compile else MODELS
    models = {name: build("idefics" if name == COMPILED else name, args.precision) for name in names}
    batch = make_batch(args.image_counts, args.seq)
    flops = {name: step_flops(name, model, batch, args.precision) for name, model in models.items()}
    if args.compile:  # after counting: the counter runs the eager modules
        for name, model in models.items():
            compile_model(name, model)
    times = {name: [] for name in models}
    cpu_times = {name: [] for name in models}
    load0 = os.getloadavg()[0]
    for i in range(args.steps + 2):
        for name, model in models.items():
            t0, c0 = time.perf_counter(), time.process_time()
            step(name, model, batch, args.precision)
            if i >= 2:  # two warm-up rounds
                times[name].append(time.perf_counter() - t0)
                cpu_times[name].append(time.process_time() - c0)
    load1 = os.getloadavg()[0]
    del models
    gc.collect()
    result = {"shape": SHAPE, "threads": args.threads, "precision": args.precision, "steps": args.steps,
              "image_counts": args.image_counts, "seq": args.seq, "compile": args.compile, "load": [load0, load1]}
    memory = {}
    for name in MODELS:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", name, "--threads", str(args.threads),
             "--precision", args.precision]
            + (["--image-counts", ",".join(map(str, args.image_counts))] if args.image_counts else [])
            + (["--seq", str(args.seq)] if args.seq else []),
            capture_output=True,
            text=True,
            check=True,
        )
        memory[name] = json.loads(out.stdout.strip().splitlines()[-1])
    memory[COMPILED] = memory["idefics"]
    for name in names:
        result[name] = {
            "median_s": statistics.median(times[name]),
            "min_s": min(times[name]),
            "median_cpu_s": statistics.median(cpu_times[name]),
            "gflop": flops[name] / 1e9,
            **memory[name],
        }
    o = result["ours"]
    lines = []
    for base in names[1:]:
        r = result[base]
        pairs = sorted(a / b for a, b in zip(times["ours"], times[base]))
        result[base].update(
            time_ratio=o["median_s"] / r["median_s"],
            cpu_ratio=o["median_cpu_s"] / r["median_cpu_s"],
            step_ratios=pairs,
            memory_ratio=o["peak_mib"] / r["peak_mib"],
        )
        lines.append(
            f"  vs {base}: {r['median_s'] * 1e3:.0f} ms, ratio {r['time_ratio']:.2f} (step pairs "
            f"{pairs[0]:.2f}-{pairs[-1]:.2f}; target <= 0.8), CPU time ratio {r['cpu_ratio']:.2f}, "
            f"{r['gflop']:.1f} GFLOP, peak RSS growth {r['peak_mib']:.0f} MiB (ratio {r['memory_ratio']:.2f})"
        )
    print(json.dumps(result, indent=1))
    print(
        f"fwd+bwd median, {args.precision}{', compiled' if args.compile else ''}, {args.threads} thread(s), load average {load0:.1f}-{load1:.1f}: "
        f"ours {o['median_s'] * 1e3:.0f} ms, {o['gflop']:.1f} GFLOP, peak RSS growth {o['peak_mib']:.0f} MiB\n"
        + "\n".join(lines)
    )


if __name__ == "__main__":
    main()
