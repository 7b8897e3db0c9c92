"""The training loop: setup -> data -> model -> optimiser -> (resume) -> steps -> teardown.

Each step takes a batch from every dataset (``mixture.accumulate``), clips the global
gradient norm once, agrees across ranks whether loss and gradients are finite (a
non-finite step is skipped on every rank, so none hangs, and counted), steps AdamW,
logs, and checkpoints on schedule. ``train(cfg)`` returns the per-step losses so tests
can compare runs bit for bit.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist

from flamingo import typedconfig as tc
from flamingo.typedconfig import UsageError
from train import checkpoint as ckpt
from train import dist as tdist
from train import optim as topt
from train import precision as tprec
from train.components import Components, build_components
from train.config import TrainConfig, save
from train.data import BatchStream, SampleBuilder, ShardStream, expand_paths
from train.mixture import Source, StepStats, accumulate
from train.telemetry import Telemetry, count_params, gate_values, peak_flops, step_flops

log = logging.getLogger(__name__)


class TrainingStopped(UsageError):
    """Training cannot usefully continue (e.g. too many non-finite steps in a row): one line,
    exit code 1."""

    exit_code = 1


@dataclass
class RunResult:
    losses: list[float] = field(
        default_factory=list
    )  # weighted total per step, averaged over ranks
    dataset_losses: list[dict[str, float]] = field(default_factory=list)
    skipped_steps: int = 0
    last_step: int = 0
    checkpoint: str | None = None
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)
    # per step, all ranks together: seconds, tokens, images, samples, seconds waiting on data
    timings: list[tuple[float, int, int, int, float]] = field(default_factory=list)
    flops_per_token: float = 0.0  # rough model FLOPs per token (for MFU in benchmarks)
    precision: str = ""  # what the run used: cfg.precision with "auto" resolved
    peak_flops: float = 0.0


def build_streams(cfg: TrainConfig, comp: Components, info: tdist.DistInfo) -> list[BatchStream]:
    streams = []
    for ds in cfg.data.datasets:
        builder = SampleBuilder(
            kind=ds.kind,
            vocab=comp.vocab,
            transform=comp.transform,
            max_tokens=cfg.data.max_tokens,
            max_images=cfg.data.max_images,
            attach=cfg.data.image_attach,
            image_size=comp.image_size,
        )
        dataset = ShardStream(
            urls=expand_paths(ds.paths),
            builder=builder,
            make_labels=comp.make_labels,
            label_ids=comp.label_ids,
            batch_size=ds.batch_size,
            seed=dataset_seed(cfg.data.seed, ds.name),
            rank=info.rank,
            world_size=info.world_size,
            shuffle_buffer=cfg.data.shuffle_buffer,
            shuffle_initial=cfg.data.shuffle_initial,
        )
        streams.append(
            BatchStream(
                ds.name,
                dataset,
                cfg.data.num_workers,
                cfg.data.prefetch_factor,
                pin_memory=info.device.type == "cuda",
            )
        )
    return streams


def dataset_seed(seed: int, name: str) -> int:
    """Each dataset's data-order seed, from the run's seed and the dataset's name."""
    from train.data import stream_seed

    return stream_seed(seed, name) % (1 << 31)


def _prepare_model(cfg: TrainConfig, comp: Components, info: tdist.DistInfo) -> torch.nn.Module:
    model = comp.model.to(info.device)
    if cfg.activation_checkpointing:
        if hasattr(model, "enable_gradient_checkpointing"):
            model.enable_gradient_checkpointing()
        else:
            log.warning(
                "activation_checkpointing asked for, but the model offers no enable_gradient_checkpointing()"
            )
    if cfg.compile:
        model.compile()
    return tdist.wrap(model, info, cfg.dist.strategy)


def _reduce(
    stats: StepStats, grad_norm: torch.Tensor, device: torch.device
) -> tuple[torch.Tensor, bool, list[float]]:
    """One all-reduce for losses, counts and the non-finite flag; losses averaged over ranks."""
    bad = 0.0 if stats.finite_loss and bool(torch.isfinite(grad_norm)) else 1.0
    vec = torch.tensor(
        [*stats.losses.values(), bad, stats.tokens, stats.images, stats.samples],
        dtype=torch.float64,
        device=device,
    )
    world = 1
    if dist.is_initialized():
        dist.all_reduce(vec)
        world = dist.get_world_size()
    vec = vec.cpu()
    n = len(stats.losses)
    losses = [float(v) / world for v in vec[:n]]
    return vec[n + 1 :], bool(vec[n] == 0), losses


@dataclass
class _Run:
    """Everything one run holds between steps; the methods are the loop's phases."""

    cfg: TrainConfig
    info: tdist.DistInfo
    comp: Components
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    streams: list
    result: RunResult = field(default_factory=RunResult)
    start: int = 0
    consecutive: int = 0

    def resume(self) -> None:
        found = ckpt.latest(self.cfg.checkpoint.dir) if self.cfg.checkpoint.resume else None
        if found is None:
            return
        trainer_state, rank_state = ckpt.load(found, self.model, self.optimizer, self.info)
        self.start, self.consecutive = trainer_state["step"], trainer_state["consecutive_skips"]
        self.result.skipped_steps = trainer_state["skipped_steps"]
        for s in self.streams:
            s.load_state(rank_state["data"][s.name])
        log.info("resumed from %s at step %d", found, self.start)

    def step(
        self, step: int, sources: list[Source], autocast
    ) -> tuple[StepStats, torch.Tensor, list]:
        """Gradients, one global clip, a finiteness verdict every rank shares, then AdamW or a skip."""
        cfg = self.cfg
        topt.set_lr(self.optimizer, topt.lr_at(step, cfg.steps, cfg.optim.lr, cfg.schedule))
        stats = accumulate(self.model, sources, cfg.optim.grad_accum, self.info.device, autocast())
        params = [p for p in self.model.parameters() if p.requires_grad]
        max_norm = cfg.optim.grad_clip if cfg.optim.grad_clip > 0 else math.inf
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
        norm = norm.full_tensor() if hasattr(norm, "full_tensor") else norm  # FSDP2: a DTensor
        totals, finite, losses = _reduce(stats, norm, self.info.device)
        if finite:
            self.optimizer.step()
            self.consecutive = 0
        else:
            self.result.skipped_steps += 1
            self.consecutive += 1
            log.warning(
                "step %d: non-finite loss or gradient, skipped (%d in a row)",
                step,
                self.consecutive,
            )
        self.optimizer.zero_grad(set_to_none=True)
        if self.consecutive >= cfg.max_consecutive_skips:
            raise TrainingStopped(
                f"{self.consecutive} consecutive steps had a non-finite loss or gradient (limit "
                f"max_consecutive_skips={cfg.max_consecutive_skips}); stopping at step {step}. "
                "Lower optim.lr, check the data, or resume from an earlier checkpoint."
            )
        stats.losses = dict(zip(stats.losses, losses))  # now averaged over ranks
        return stats, norm, [int(x) for x in totals]

    def metrics(self, stats: StepStats, norm, totals, elapsed: float, peak: float) -> dict:
        tokens, images, samples = totals
        counts = count_params(tdist.unwrap(self.model))
        flops = step_flops(counts, tokens, images, self.comp.patches_per_image)
        return {
            "loss": self.result.losses[-1],
            **{f"loss/{k}": v for k, v in stats.losses.items()},
            "lr": self.optimizer.param_groups[0]["lr"],
            "grad_norm": float(norm),
            "tokens_per_s": tokens / elapsed,
            "images_per_s": images / elapsed,
            "samples_per_s": samples / elapsed,
            "data_wait_frac": stats.data_wait_s / elapsed,
            "mfu": flops / elapsed / (peak * self.info.world_size) if peak else 0.0,
            "skipped_steps": self.result.skipped_steps,
            **{f"gate/{k}": v for k, v in gate_values(tdist.unwrap(self.model)).items()},
        }

    def save(self, step: int) -> Path:
        trainer_state = {
            "consecutive_skips": self.consecutive,
            "skipped_steps": self.result.skipped_steps,
        }
        rank_state = {"data": {s.name: s.state() for s in self.streams}}
        return ckpt.save(
            self.cfg.checkpoint.dir,
            step,
            self.model,
            self.optimizer,
            trainer_state,
            rank_state,
            self.info,
            self.cfg.checkpoint.keep_last,
        )


def _setup(cfg: TrainConfig, components: Components | None, streams: list | None) -> _Run:
    info = tdist.setup(cfg.device, cfg.dist.backend)
    torch.manual_seed(cfg.seed)  # identical model init on every rank
    comp = components or build_components(cfg.model.preset)
    if info.is_main:
        Path(cfg.checkpoint.dir).mkdir(parents=True, exist_ok=True)
        save(cfg, Path(cfg.checkpoint.dir) / "config.json")
    streams = streams if streams is not None else build_streams(cfg, comp, info)
    model = _prepare_model(cfg, comp, info)
    optimizer = topt.build_optimizer(model, cfg.optim)
    torch.manual_seed(cfg.seed + 1000 * info.rank)  # per-rank stream for dropout and the like
    return _Run(cfg, info, comp, model, optimizer, streams)


def _evaluator(cfg: TrainConfig, info: tdist.DistInfo):
    """The few-shot evaluation hook (train/eval/hook.py), when ``eval.every`` asks for one."""
    if not cfg.eval.every:
        return None
    from train.eval.hook import TrainingEvaluator

    return TrainingEvaluator(cfg.eval, cfg.checkpoint.dir, cfg.dist.strategy, info.world_size)


def _evaluate(evaluator, run: _Run, step: int) -> dict[str, float]:
    tokenizer = getattr(run.comp.vocab.encode, "tokenizer", None)
    if tokenizer is None:
        raise UsageError("eval.every needs a model with a tokenizer (build_components)", "set eval.every=0")
    return evaluator(tdist.unwrap(run.model), tokenizer, run.comp.transform, step, run.info.device,
                     run.info.is_main)


def train(
    cfg: TrainConfig, components: Components | None = None, streams: list | None = None
) -> RunResult:
    """Run (or resume) training. ``streams`` replaces the shard streams (tests, benchmarks):
    objects with ``name``, ``__next__``, ``state()``, ``load_state()``, ``dropped_total()``."""
    tc.check(cfg)  # a config changed after it was built (tests, benchmarks) is checked again
    if streams is None:
        cfg.validate_launch()
    run = _setup(cfg, components, streams)
    run.resume()
    info, result = run.info, run.result
    sources = [Source(s.name, ds.weight, s) for s, ds in zip(run.streams, cfg.data.datasets)]
    precision = tprec.resolve(cfg.precision, info.device)
    autocast = tprec.autocast(precision, info.device)
    result.precision = precision
    peak, peak_src = peak_flops(info.device, cfg.log.peak_tflops) if info.is_main else (0.0, "")
    log_cfg = cfg.log
    tele = Telemetry(
        cfg.checkpoint.dir,
        enabled=info.is_main,
        jsonl=log_cfg.jsonl,
        tensorboard=log_cfg.tensorboard,
        progress=log_cfg.progress,
        total=cfg.steps,
        start=run.start,
    )
    evaluator = _evaluator(cfg, info)
    try:
        for step in range(run.start, cfg.steps):
            t0 = time.perf_counter()
            stats, norm, totals = run.step(step, sources, autocast)
            elapsed = time.perf_counter() - t0
            result.losses.append(sum(ds.weight * stats.losses[ds.name] for ds in cfg.data.datasets))
            result.dataset_losses.append(stats.losses)
            result.timings.append((elapsed, *totals, stats.data_wait_s))
            result.last_step = step + 1
            tele.tick()
            if info.is_main and (step + 1) % log_cfg.every == 0:
                tele.record(step + 1, run.metrics(stats, norm, totals, elapsed, peak))
            if evaluator is not None and (step + 1) % cfg.eval.every == 0:  # issue 16: eval hook
                tele.record(step + 1, _evaluate(evaluator, run, step + 1))
            every = cfg.checkpoint.every
            if (every and (step + 1) % every == 0) or step + 1 == cfg.steps:
                result.checkpoint = str(run.save(step + 1))
    finally:
        tele.close()
    result.dropped = {s.name: s.dropped_total() for s in run.streams}
    result.peak_flops = peak * info.world_size
    result.flops_per_token = step_flops(
        count_params(tdist.unwrap(run.model)), 1, 0, run.comp.patches_per_image
    )
    if info.is_main:
        log.info(
            "precision %s (asked: %s); peak FLOP/s for MFU: %.3g (%s); dropped samples: %s",
            precision,
            cfg.precision,
            peak,
            peak_src,
            result.dropped,
        )
    return result
