"""`flamingo train --preset NAME [--config FILE] [--section.field=value …]`.

The flags come from the config dataclasses (``train.config.add_override_flags``). Torch is
imported only when the command runs, so the CLI's other subcommands stay light.
"""

from __future__ import annotations

import argparse
import logging

from train.config import PRESETS, add_override_flags, resolve

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--preset", default="tiny", choices=sorted(PRESETS), help="named training preset"
    )
    parser.add_argument("--config", default=None, help="JSON or TOML file overriding the preset")
    parser.add_argument(
        "--resume", action="store_true", help="continue from the latest complete checkpoint"
    )
    add_override_flags(parser)
    return parser


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train Flamingo on interleaved and pair shards",
        description="Train Flamingo on shards. Several processes: torchrun --nproc-per-node N -m train …",
    )
    configure(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from train.loop import TrainingStopped, train

    cfg = resolve(args.preset, args.config, args)
    if args.resume:
        cfg.checkpoint.resume = True
    try:
        result = train(cfg)
    except TrainingStopped as e:
        log.error("%s", e)
        return 2
    log.info(
        "done: %d steps, %d skipped, last checkpoint %s",
        result.last_step,
        result.skipped_steps,
        result.checkpoint,
    )
    return 0
