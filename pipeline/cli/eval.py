"""`flamingo eval --checkpoint DIR --task NAME --data PATH [--shots 0,4,8,16,32] [--trials 3]`.

Few-shot evaluation as the Flamingo paper and OpenFlamingo report it (see docs/eval.md): the
benchmark read from its own files, k demonstrations per query (random with a seed per trial, or
RICES), mean and std over trials, results.json + results.md + every prediction in --out.
Several processes: ``torchrun --nproc-per-node N -m pipeline.cli eval ...`` splits the queries.
"""

from __future__ import annotations

import json
import logging
import os

from flamingo.typedconfig import ArgumentParser, add_flags, resolve, to_dict

SUMMARY = "few-shot evaluation of a checkpoint on a benchmark (CIDEr, VQA accuracy, classification)"
log = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    from train.eval.config import EvalCommandConfig

    p = ArgumentParser(prog="flamingo eval", description=__doc__.split("\n\n")[0])
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--config", metavar="FILE", help="JSON or TOML file of options; flags override it")
    add_flags(p, EvalCommandConfig)
    args = p.parse_args(argv)
    from flamingo.typedconfig import load_file

    cfg = resolve(EvalCommandConfig, args, data=load_file(args.config) if args.config else None)
    cfg.validate_launch()
    from train.eval.tasks import Paths, load_task

    data = load_task(cfg.task, Paths(cfg.data, cfg.images, cfg.annotations, cfg.split, cfg.demo_data,
                                     cfg.demo_images or cfg.images, cfg.demo_annotations, cfg.class_names))
    from train import dist as tdist
    from train.eval.checkpoints import eval_model, load_checkpoint
    from train.eval.results import table, write_results
    from train.eval.runner import evaluate

    info = tdist.setup(cfg.device)
    loaded = load_checkpoint(cfg.checkpoint)
    em = eval_model(loaded.model, loaded.tokenizer, loaded.transform, device=info.device,
                    precision=cfg.precision, ablation=cfg.image_ablation)
    if info.is_main:
        log.info("%s: %d queries, %d demonstrations in the pool; shots %s x %d trials", cfg.task,
                 len(data.queries), len(data.pool), cfg.shots, cfg.trials)
    results = evaluate(cfg, em, data, out_dir=cfg.out if info.is_main else None, checkpoint=loaded.source)
    if info.is_main:
        write_results(cfg.out, results)
        with open(os.path.join(cfg.out, "config.json"), "w") as f:
            json.dump(to_dict(cfg), f, indent=2)
        print(table(results))
        print(f"results: {os.path.join(cfg.out, 'results.json')}  predictions: {os.path.join(cfg.out, 'predictions')}")
    tdist.teardown()
    return 0
