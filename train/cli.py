"""The trainer's command line, shared by ``flamingo train`` and ``python -m train`` (torchrun).

Flags come from the config (``flamingo.typedconfig``): ``--preset``, ``--config FILE``,
``--resume``, ``--allow_config_change`` (alias ``--allow-config-change``) and one
``--section.field`` per field. Torch is imported only when a run starts.
"""

from __future__ import annotations

import argparse
import logging

from flamingo import typedconfig as tc
from train.config import PRESETS, TrainConfig, resolve

log = logging.getLogger(__name__)


def parser(prog: str) -> argparse.ArgumentParser:
    p = tc.ArgumentParser(prog=prog, description="Train Flamingo on shards. Several processes: "
                          "torchrun --nproc-per-node N -m train ...",
                          usage=f"{prog} [--preset NAME] [--config FILE] [--resume [--allow_config_change]] "
                          "[--section.field VALUE ...]")
    p.add_argument("--preset", default="tiny", choices=PRESETS.names(), help="named training preset (default: tiny)")
    p.add_argument("--config", metavar="FILE", help="JSON or TOML file overriding the preset; flags override it")
    p.add_argument("--resume", action="store_true", help="continue from the latest complete checkpoint")
    p.add_argument("--allow_config_change", "--allow-config-change", action="store_true",
                   help="on resume, accept changed options that shape data or optimisation (they are listed)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    tc.add_flags(p, TrainConfig, defaults=PRESETS.get("tiny"))
    return p


def config_from_argv(argv: list[str], prog: str = "flamingo train") -> TrainConfig:
    args = parser(prog).parse_args(argv)
    cfg = resolve(args.preset, args.config, args)
    if args.resume:
        cfg.checkpoint.resume = True
    if args.allow_config_change:
        cfg.checkpoint.allow_config_change = True
    return cfg


def main(argv: list[str], prog: str = "flamingo train") -> int:
    """Parse, check, train; TrainingStopped and config errors surface as one line upstream."""
    cfg = config_from_argv(argv, prog)
    from train import dist as tdist
    from train.loop import train

    result = train(cfg)
    tdist.teardown()  # under torchrun: every rank leaves the process group together
    log.info("done: %d steps, %d skipped, last checkpoint %s", result.last_step, result.skipped_steps,
             result.checkpoint)
    return 0
