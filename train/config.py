"""Typed training configuration and named presets, on the kit's one configuration system.

One ``TrainConfig`` (sections declared with ``flamingo.typedconfig``) describes a run. Named
presets live in ``PRESETS``; a JSON or TOML file and ``--section.field=value`` flags override
a preset, in that order (:func:`resolve`). Every run saves the resolved config as JSON beside
its checkpoints.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from flamingo import typedconfig as tc
from flamingo.typedconfig import ConfigError, Presets, config, opt, require, section
from train.eval.config import TrainEvalConfig

KINDS = ("interleaved", "pair", "video")
PRECISIONS = ("bf16", "fp32", "auto")


@config
class DatasetConfig:
    """One dataset of the mixture: its shards, kind, loss weight and per-step batch size."""

    name: str = opt(help="name in logs and checkpoints")
    paths: list[str] = opt(help="shard paths, globs, {000..099} braces or fsspec URLs (never pipe:)")
    kind: str = opt("interleaved", "what the shards hold", choices=KINDS)
    weight: float = opt(1.0, "loss weight in the mixture (the paper: M3W 1.0, pairs 0.2)", min=0.0)
    batch_size: int = opt(8, "samples per optimiser micro-step", min=1)

    def validate(self) -> None:
        require(self.name != "", "name", "a dataset needs a name")


@config
class DataConfig:
    datasets: list[DatasetConfig] = opt(help="the mixture, as JSON (or [[data.datasets]] tables in a config "
                                        "file)", factory=list)
    max_tokens: int = opt(256, "longest training row, BOS and EOS included; a stored sequence longer than this "
                          "stops the run (see truncate)", min=8)
    max_images: int = opt(5, "images per training row; more stops the run (see truncate)", min=1, max=64)
    truncate: bool = opt(False, "cut rows over max_tokens/max_images instead of stopping (counted as truncated)")
    image_placement: str = opt("random", "which text an image conditions: the text after it (next), before it "
                               "(previous), or either with probability 1/2 per sequence (random, the paper)",
                               choices=("next", "previous", "random"))
    video_frames: int = opt(8, "frames per video sample, spread evenly over its stored frames", min=1, max=256)
    shuffle_buffer: int = opt(1000, "samples each loader worker reads and shuffles together", min=1)
    first_valid_within: int = opt(200, "stop when a loader worker's first N samples are all unusable", min=1)
    num_workers: int = opt(0, "DataLoader worker processes per rank", min=0, max=256)
    prefetch_factor: int = opt(2, "batches each loader worker prepares ahead", min=1)
    seed: int = opt(0, "data order seed", min=0)

    def validate(self) -> None:
        names = [d.name for d in self.datasets]
        require(len(set(names)) == len(names), "datasets", f"dataset names repeat: {names}")


@config
class ModelConfig:
    preset: str = opt("tiny", "a model preset of flamingo.config.PRESETS")
    vision_weights: str = opt("", "a safetensors file of the preset's custom vision tower's weights (one "
                              "train/tower.py pretrained); '' keeps the preset's tower")

    def flamingo_config(self):
        """The model preset's ``FlamingoConfig``, with ``vision_weights`` as its tower's weights."""
        from flamingo.config import PRESETS as MODELS

        cfg = MODELS.get(self.preset)
        if self.vision_weights:
            cfg.vision.pretrained = os.path.abspath(self.vision_weights)
        return cfg

    def validate(self) -> None:
        from flamingo.config import PRESETS as MODELS

        require(self.preset in MODELS, "preset", f"unknown model preset {self.preset!r}",
                f"known: {', '.join(MODELS.names())}")


@config
class OptimConfig:
    lr: float = opt(1e-4, "peak learning rate (AdamW)", above=0.0)
    weight_decay: float = opt(0.1, "AdamW weight decay; the Perceiver, gates, norms and biases are exempt", min=0.0)
    beta1: float = opt(0.9, "AdamW beta1", min=0.0, max=0.9999)
    beta2: float = opt(0.999, "AdamW beta2", min=0.0, max=0.99999)
    eps: float = opt(1e-8, "AdamW epsilon", above=0.0)
    grad_clip: float = opt(1.0, "global gradient norm clip, once per optimiser step; 0 disables", min=0.0)
    grad_accum: int = opt(1, "micro-steps per optimiser step (each takes a batch of every dataset)", min=1)
    gate_lr_mult: float = opt(1.0, "learning-rate multiplier of the tanh gates (scalars that start at 0; see "
                              "train/see.py)", above=0.0)


@config
class ScheduleConfig:
    kind: str = opt("constant", "learning rate after warm-up", choices=("constant", "linear", "cosine"))
    warmup_steps: int = opt(5000, "linear warm-up steps", min=0)
    min_lr_ratio: float = opt(0.0, "floor of linear/cosine decay, as a fraction of lr", min=0.0, max=1.0)


@config
class CheckpointConfig:
    dir: str = opt("checkpoints", "checkpoint directory")
    every: int = opt(1000, "steps between checkpoints; 0 saves only at the end", min=0)
    keep_last: int = opt(3, "complete checkpoints kept", min=1)
    resume: bool = opt(False, "continue from the latest complete checkpoint")
    allow_config_change: bool = opt(False, "on resume, accept changed options that shape data or optimisation")


@config
class DistConfig:
    strategy: str = opt("ddp", "several processes: ddp, or fsdp (FSDP2 fully_shard)", choices=("ddp", "fsdp"))
    backend: str = opt("", "torch.distributed backend; '' picks nccl on CUDA, gloo on CPU",
                       choices=("", "nccl", "gloo"))


@config
class LogConfig:
    every: int = opt(10, "steps between log lines", min=1)
    jsonl: bool = opt(True, "write train_log.jsonl")
    tensorboard: bool = opt(True, "write TensorBoard events")
    progress: bool = opt(True, "show a progress bar")
    peak_tflops: float = opt(0.0, "device peak for MFU; 0: known GPU table, or a measured matmul rate on CPU",
                             min=0.0)


@config
class TrainConfig:
    steps: int = opt(1000, "optimiser steps", min=1)
    seed: int = opt(0, "seed of new parameters' init and of every RNG", min=0)
    device: str = opt("", "'' picks cuda when available, else cpu")
    precision: str = opt("bf16", "bf16 autocast over fp32 weights, fp32, or auto (bf16 where the device runs "
                         "it natively)", choices=PRECISIONS)
    activation_checkpointing: bool = opt(False, "recompute activations in the backward pass to save memory")
    compile: bool = opt(False, "torch.compile the model by region (Flamingo.compile: each cross-attention + LM "
                        "layer block and the Perceiver); pays on long runs, costs about a minute to compile on a CPU")
    max_consecutive_skips: int = opt(10, "non-finite steps in a row before training stops", min=1)
    model: ModelConfig = section(ModelConfig)
    data: DataConfig = section(DataConfig)
    optim: OptimConfig = section(OptimConfig)
    schedule: ScheduleConfig = section(ScheduleConfig)
    checkpoint: CheckpointConfig = section(CheckpointConfig)
    dist: DistConfig = section(DistConfig)
    log: LogConfig = section(LogConfig)
    eval: TrainEvalConfig = section(TrainEvalConfig)  # few-shot evaluation every eval.every steps (train/eval/)

    def validate_launch(self) -> None:
        """What a run needs beyond valid values (presets leave it out): datasets with shards."""
        if not self.data.datasets:
            raise ConfigError("no datasets configured",
                              "add [[data.datasets]] tables (name, paths, kind, weight, batch_size) to the "
                              "--config file, or pass --data.datasets as JSON")
        for ds in self.data.datasets:
            if not ds.paths:
                raise ConfigError(f"dataset {ds.name!r} has no shard paths", "set paths = [...] in its "
                                  "[[data.datasets]] table", field="data.datasets")


def _paper_mixture(interleaved: list[str], pairs: list[str], bs: int) -> list[DatasetConfig]:
    # Flamingo: M3W weight 1.0, each pair dataset 0.2; pair batches twice the interleaved one.
    return [
        DatasetConfig(
            name="interleaved", paths=interleaved, kind="interleaved", weight=1.0, batch_size=bs
        ),
        DatasetConfig(name="pairs", paths=pairs, kind="pair", weight=0.2, batch_size=2 * bs),
    ]


PRESETS = Presets("training", {
    # Tests: the random tiny model, a few samples per batch, fp32 so CPU runs are bit-exact.
    "tiny": TrainConfig(
        steps=20,
        precision="fp32",
        model=ModelConfig(preset="tiny"),
        data=DataConfig(max_tokens=64, shuffle_buffer=16),
        optim=OptimConfig(lr=1e-3),
        schedule=ScheduleConfig(warmup_steps=2),
        checkpoint=CheckpointConfig(every=10, keep_last=2),
        log=LogConfig(every=1, tensorboard=False, progress=False),
    ),
    # make demo: SmolLM2-135M (frozen, GGUF) + a small random open_clip tower, on CPU.
    # Precision "auto": bf16 where the CPU multiplies bf16 natively, else fp32. Measured with
    # bench/train_precision.py --steps 30 (2 threads, AVX512-BF16 EPYC): fp32 1.46 s/step,
    # bf16 0.97 s/step (x1.51), loss 7.240 -> 5.594 vs 7.226 -> 5.589. Without native bf16
    # PyTorch's fallback GEMM is ~70x slower than fp32, so fixed bf16 would cripple the demo there.
    "demo": TrainConfig(
        steps=30,
        precision="auto",
        model=ModelConfig(preset="demo"),
        # CPU budget: the corpus job's 256-token sequences are cut to 96 tokens here, counted
        # (train_log.jsonl "truncated/..."); the paper preset trains on them whole.
        data=DataConfig(max_tokens=96, shuffle_buffer=64, truncate=True),
        optim=OptimConfig(lr=3e-4),
        schedule=ScheduleConfig(warmup_steps=3),
        checkpoint=CheckpointConfig(every=0, keep_last=1),
        log=LogConfig(every=5, tensorboard=False),
    ),
    # The learns-to-see recipe (train/see.py, bench/learns_to_see.py): the see-clip model (the demo's
    # LM, a small ViT the recipe pretrains contrastively, then freezes) on the synthetic shapes
    # documents, CPU. A high learning rate for minutes of training, and 20x that for the tanh gates,
    # which otherwise open by at most lr per step (measured: at 1x the images stayed unused in 200
    # steps), decaying (at a constant 1e-3 a 300-step run diverged past ~200 steps). Image placement
    # "next": each caption follows its image, and the paper's random placement would, in half the
    # rows, give every caption but the last the cross-attention of the image after it (its wrong
    # image; train.collate.attach_images), which taught colour but hid shape and count (bench/README).
    "see": TrainConfig(
        steps=300,
        precision="auto",
        model=ModelConfig(preset="see-clip"),
        data=DataConfig(max_tokens=96, shuffle_buffer=256, image_placement="next"),
        optim=OptimConfig(lr=1e-3, gate_lr_mult=20.0),
        schedule=ScheduleConfig(warmup_steps=10, kind="cosine", min_lr_ratio=0.05),
        checkpoint=CheckpointConfig(every=0, keep_last=1),
        log=LogConfig(every=10, tensorboard=False, progress=False),
    ),
    # The paper's recipe at scale; shard paths come from --config or flags. Compiled by region
    # (Flamingo.compile): 0.86x the eager bf16 step time on CPU (bench/README.md), a minute to compile.
    "paper": TrainConfig(
        steps=500_000,
        compile=True,
        model=ModelConfig(preset="flamingo-3b-like"),
        data=DataConfig(datasets=_paper_mixture([], [], 4), num_workers=4),
        schedule=ScheduleConfig(warmup_steps=5000),
    ),
})


def resolve(preset: str, config_file: str | None = None, args=None) -> TrainConfig:
    """Preset -> config file -> ``--section.field`` flags, checked; ready to run."""
    cfg = tc.resolve(TrainConfig, args, base=PRESETS.get(preset),
                     data=tc.load_file(config_file) if config_file else None)
    cfg.validate_launch()
    return cfg


def save(cfg: TrainConfig, path: str | Path) -> None:
    Path(path).write_text(json.dumps(tc.to_dict(cfg), indent=2) + "\n")


def read_saved(directory: str | Path) -> dict | None:
    """The ``config.json`` in ``directory`` as a dict (None when absent or unreadable)."""
    try:
        return json.loads((Path(directory) / "config.json").read_text())
    except (OSError, ValueError):
        return None


def write_run_config(cfg: TrainConfig) -> None:
    """``config.json`` beside the checkpoints: the config of the latest start. A resumed run
    with other options keeps the earlier file as ``config.before_<time>.json`` (each checkpoint
    also holds the config that wrote it, which is what a resume compares against)."""
    root = Path(cfg.checkpoint.dir)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "config.json"
    if cfg.checkpoint.resume and path.is_file() and read_saved(root) != tc.to_dict(cfg):
        path.rename(root / f"config.before_{time.strftime('%Y%m%d-%H%M%S')}.json")
    save(cfg, path)
