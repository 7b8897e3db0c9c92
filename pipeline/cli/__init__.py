"""The `flamingo` command: one entry point, one module per subcommand.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``
which registers itself and sets ``func`` (a callable taking the parsed args
and returning an exit code). Modules are imported lazily so that
``flamingo inspect`` never pays for importing Beam or torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# subcommand name -> module that implements it (imported on demand)
SUBCOMMANDS: dict[str, str] = {
    "inspect": "pipeline.cli.inspect",
    "extract": "pipeline.cli.extract",
    "corpus": "pipeline.cli.corpus",
    "pairs": "pipeline.cli.pairs",
    "train": "pipeline.cli.train",
    "demo": "pipeline.cli.demo",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flamingo",
        description="Flamingo Kit: web crawls to interleaved image-text shards, and Flamingo training.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in SUBCOMMANDS.items():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # Beam and matplotlib narrate every step at INFO
        for noisy in ("apache_beam", "matplotlib"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "accepts_extra", False):
        # Forwarding subcommands (corpus, pairs) parse their own flags: hand them everything
        # after the subcommand name, because argparse's REMAINDER splits a leading "--flag" off.
        args.raw_argv = argv[argv.index(args.command) + 1:]
        return int(args.func(args, []) or 0)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
