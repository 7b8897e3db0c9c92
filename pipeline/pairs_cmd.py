"""`flamingo pairs`: the pairs job from the command line (see pipeline.jobs.pairs)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace, extra: list[str]) -> int:
    from pipeline.jobs import pairs

    pairs.run([*extra, *args.raw_argv])
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "pairs",
        help="crawls or URL+caption lists -> image-text pair shards, img2dataset layout (Apache Beam)",
        description="Any standard Beam option (--runner, --project, --region, --temp_location, "
        "--setup_file, ...) is passed to the runner.",
        add_help=False,
    )
    p.add_argument("raw_argv", nargs=argparse.REMAINDER)
    p.set_defaults(func=run, accepts_extra=True)
