"""Evaluation from inside the trainer, every ``eval.every`` steps, logged beside the loss.

The trainer hands over its live model (unwrapped from DDP) and its components; the benchmark is
read once, when the run starts, so a wrong path fails before the first step. Each evaluation
writes its predictions and results under ``<checkpoint.dir>/eval/step_XXXXXXXX/`` and returns
scalars named ``eval/<task>/<k>shot`` for the run's log. Every rank evaluates its share of the
queries with the unwrapped module (no collective inside the forward), which FSDP cannot do:
evaluate FSDP runs' checkpoints with ``flamingo eval`` instead.
"""

from __future__ import annotations

import os

import torch

from flamingo.typedconfig import ConfigError
from train.eval.checkpoints import eval_model
from train.eval.config import TrainEvalConfig
from train.eval.results import write_results
from train.eval.runner import evaluate
from train.eval.tasks import Paths, load_task


class TrainingEvaluator:
    def __init__(self, cfg: TrainEvalConfig, out_dir: str, strategy: str, world_size: int):
        if strategy == "fsdp" and world_size > 1:
            raise ConfigError("evaluation during training does not run under FSDP", "set eval.every=0 and "
                              "evaluate the checkpoints with flamingo eval", field="eval.every")
        self.cfg, self.out_dir = cfg, out_dir
        self.data = load_task(cfg.task, Paths(cfg.data, cfg.images, cfg.annotations, cfg.split, cfg.demo_data,
                                              cfg.demo_images or cfg.images, cfg.demo_annotations, cfg.class_names))

    def __call__(self, model: torch.nn.Module, tokenizer, transform, step: int, device: torch.device,
                 is_main: bool) -> dict[str, float]:
        was_training = model.training
        out = os.path.join(self.out_dir, "eval", f"step_{step:08d}")
        em = eval_model(model, tokenizer, transform, device=device, precision=self.cfg.precision,
                        ablation=self.cfg.image_ablation)
        try:
            results = evaluate(self.cfg, em, self.data, out_dir=out if is_main else None,
                               checkpoint={"path": self.out_dir, "step": step, "format": "live training run"})
        finally:
            model.train(was_training)
        if not is_main:
            return {}
        write_results(out, results)
        return {f"eval/{self.cfg.task}/{k}shot": v["mean"] for k, v in results["shots"].items()}
