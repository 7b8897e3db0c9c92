"""The training loop: setup -> data -> model -> optimiser -> (resume) -> steps -> teardown.

Each step takes a batch from every dataset (``mixture.accumulate``), clips the global
gradient norm once, agrees across ranks whether loss and gradients are finite (a
non-finite step is skipped on every rank, so none hangs, and counted), steps AdamW,
logs, and checkpoints on schedule. ``train(cfg)`` returns the per-step losses so tests
can compare runs bit for bit.

Exact resume: every RNG the run draws from (torch CPU and CUDA, Python, NumPy) is seeded at
setup and saved per rank; the data streams save positions and seed per sample (so loader
workers need no saved state); the model trains in train mode (the frozen towers stay in eval,
see ``flamingo.model``); logs are cut back to the resumed step. A resume whose options would
change the data or the updates is refused (``train.resume``).
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
from flamingo.typedconfig import ConfigError, UsageError
from train import checkpoint as ckpt
from train import dist as tdist
from train import optim as topt
from train import precision as tprec
from train import resume as tresume
from train.components import Components, build_components
from train.config import TrainConfig, write_run_config
from train.data import BatchStream, ShardStream, check_layout, expand_paths
from train.mixture import Source, StepStats, accumulate
from train.order import stream_seed
from train.rng import seed_everything
from train.samples import SampleBuilder
from train.telemetry import Telemetry, flop_model, gate_values, peak_flops, step_flops

log = logging.getLogger(__name__)


class TrainingStopped(UsageError):
    """Training cannot usefully continue (e.g. too many non-finite steps in a row): one line,
    exit code 1."""

    exit_code = 1


@dataclass
class RunResult:
    losses: list[float] = field(default_factory=list)  # weighted total per step, averaged over ranks
    dataset_losses: list[dict[str, float]] = field(default_factory=list)
    skipped_steps: int = 0
    last_step: int = 0
    checkpoint: str | None = None
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)
    truncated: dict[str, int] = field(default_factory=dict)
    # per step, all ranks together: seconds, tokens, media, samples, seconds waiting on data, frames
    timings: list[tuple[float, int, int, int, float, int]] = field(default_factory=list)
    flops_per_token: float = 0.0  # model FLOPs per text token alone (for MFU in benchmarks)
    precision: str = ""  # what the run used: cfg.precision with "auto" resolved
    peak_flops: float = 0.0
    resumed_from: str | None = None
    exact_resume: bool = True


def build_streams(cfg: TrainConfig, comp: Components, info: tdist.DistInfo) -> list[BatchStream]:
    streams = []
    for ds in cfg.data.datasets:
        builder = SampleBuilder(
            kind=ds.kind,
            vocab=comp.vocab,
            transform=comp.transform,
            max_tokens=cfg.data.max_tokens,
            max_images=cfg.data.max_images,
            placement=cfg.data.image_placement,
            truncate=cfg.data.truncate,
            video_frames=cfg.data.video_frames,
            image_size=comp.image_size,
        )
        urls = expand_paths(ds.paths)
        check_layout(urls, ds.kind, ds.name)
        dataset = ShardStream(
            urls=urls,
            builder=builder,
            make_labels=comp.make_labels,
            label_ids=comp.label_ids,
            batch_size=ds.batch_size,
            name=ds.name,
            seed=dataset_seed(cfg.data.seed, ds.name),
            rank=info.rank,
            world_size=info.world_size,
            chunk=cfg.data.shuffle_buffer,
            first_valid_within=cfg.data.first_valid_within,
        )
        streams.append(BatchStream(ds.name, dataset, cfg.data.num_workers, cfg.data.prefetch_factor,
                                   pin_memory=info.device.type == "cuda"))
    return streams


def dataset_seed(seed: int, name: str) -> int:
    """Each dataset's data-order seed, from the run's seed and the dataset's name."""
    return stream_seed(seed, name) % (1 << 31)


def check_media(cfg: TrainConfig, comp: Components) -> None:
    if any(ds.kind == "video" for ds in cfg.data.datasets) and cfg.data.video_frames > comp.max_frames:
        raise ConfigError(f"{cfg.data.video_frames} frames per video, but the model's Perceiver has time "
                          f"embeddings for {comp.max_frames}", f"set --data.video_frames <= {comp.max_frames} "
                          "(or a model preset with vision.max_frames >= it)", field="data.video_frames")


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
    model = tdist.wrap(model, info, cfg.dist.strategy)
    model.train()  # the new modules train; Flamingo keeps its frozen towers in eval
    return model


def _reduce(
    stats: StepStats, grad_norm: torch.Tensor, device: torch.device
) -> tuple[torch.Tensor, bool, list[float]]:
    """One all-reduce for losses, counts and the non-finite flag; losses averaged over ranks."""
    bad = 0.0 if stats.finite_loss and bool(torch.isfinite(grad_norm)) else 1.0
    vec = torch.tensor(
        [*stats.losses.values(), bad, stats.tokens, stats.images, stats.samples, stats.frames],
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
    reported: dict[str, int] = field(default_factory=dict)  # skipped samples already summarised, per dataset

    @property
    def flops(self):
        if not hasattr(self, "_flops"):
            self._flops = flop_model(tdist.unwrap(self.model))
        return self._flops

    def resume(self) -> None:
        done = tresume.restore(self.cfg, self.info, self.model, self.optimizer, self.streams)
        if done is None:
            return
        self.start, self.consecutive = done.trainer["step"], done.trainer["consecutive_skips"]
        self.result.skipped_steps = done.trainer["skipped_steps"]
        self.result.resumed_from, self.result.exact_resume = str(done.path), done.exact
        log.info("resumed from %s at step %d", done.path, self.start)

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
        tokens, images, samples, frames = totals
        flops = step_flops(self.flops, tokens, images, frames)
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
            **{f"skipped_samples/{s.name}": sum(s.dropped_total().values()) for s in self.streams
               if hasattr(s, "dropped_total")},
            **{f"truncated/{s.name}": s.truncated_total() for s in self.streams if hasattr(s, "truncated_total")},
            **{f"gate/{k}": v for k, v in gate_values(tdist.unwrap(self.model)).items()},
        }

    def save(self, step: int) -> Path:
        trainer_state = {
            "consecutive_skips": self.consecutive,
            "skipped_steps": self.result.skipped_steps,
        }
        rank_state = {"data": {s.name: s.state() for s in self.streams}}
        return ckpt.save(self.cfg.checkpoint.dir, step, self.model, self.optimizer, trainer_state, rank_state,
                         self.info, self.cfg.checkpoint.keep_last, config=tc.to_dict(self.cfg))

    def report_skips(self) -> None:
        """One summary line per dataset whose skipped-sample count grew since the last one."""
        for s in self.streams:
            counts = s.dropped_total() if hasattr(s, "dropped_total") else {}
            total = sum(counts.values())
            if total > self.reported.get(s.name, 0):
                self.reported[s.name] = total
                log.warning("dataset %r: %d samples skipped so far (%s)", s.name, total,
                            ", ".join(f"{r} {n}" for r, n in sorted(counts.items(), key=lambda kv: -kv[1])))


def _setup(cfg: TrainConfig, components: Components | None, streams: list | None) -> _Run:
    info = tdist.setup(cfg.device, cfg.dist.backend)
    torch.manual_seed(cfg.seed)  # identical model init on every rank
    comp = components or build_components(cfg.model.flamingo_config())
    check_media(cfg, comp)
    streams = streams if streams is not None else build_streams(cfg, comp, info)
    model = _prepare_model(cfg, comp, info)
    optimizer = topt.build_optimizer(model, cfg.optim)
    seed_everything(cfg.seed + 1000 * info.rank)  # per-rank streams for dropout and the like
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
    objects with ``name``, ``__next__``, ``state()``, ``load_state(states of every saved rank) ->
    exact?`` and ``dropped_total()``."""
    tc.check(cfg)  # a config changed after it was built (tests, benchmarks) is checked again
    if streams is None:
        cfg.validate_launch()
    run = _setup(cfg, components, streams)
    run.resume()
    info, result = run.info, run.result
    if info.is_main:  # after the resume checks: a refused resume leaves config.json as it was
        write_run_config(cfg)
    sources = [Source(s.name, ds.weight, s) for s, ds in zip(run.streams, cfg.data.datasets)]
    precision = tprec.resolve(cfg.precision, info.device)
    autocast = tprec.autocast(precision, info.device)
    result.precision = precision
    peak, peak_src = peak_flops(info.device, cfg.log.peak_tflops, precision) if info.is_main else (0.0, "")
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
            tokens, media, samples, frames = totals
            result.timings.append((elapsed, tokens, media, samples, stats.data_wait_s, frames))
            result.last_step = step + 1
            tele.tick()
            if info.is_main and (step + 1) % log_cfg.every == 0:
                tele.record(step + 1, run.metrics(stats, norm, totals, elapsed, peak))
                run.report_skips()
            if evaluator is not None and (step + 1) % cfg.eval.every == 0:  # the few-shot eval hook
                tele.record(step + 1, _evaluate(evaluator, run, step + 1))
            every = cfg.checkpoint.every
            if (every and (step + 1) % every == 0) or step + 1 == cfg.steps:
                result.checkpoint = str(run.save(step + 1))
    finally:
        tele.close()
    result.dropped = {s.name: s.dropped_total() for s in run.streams}
    result.truncated = {s.name: s.truncated_total() for s in run.streams if hasattr(s, "truncated_total")}
    result.peak_flops = peak * info.world_size
    result.flops_per_token = step_flops(run.flops, 1, 0, 0)
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
