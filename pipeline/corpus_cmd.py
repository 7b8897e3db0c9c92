"""`flamingo corpus`: the corpus job from the command line (see pipeline.jobs.corpus)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace, extra: list[str]) -> int:
    from pipeline.jobs import corpus

    corpus.run([*extra, *args.raw_argv])
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "corpus",
        help="WARC/HTML -> interleaved M3W-style sequence shards (Apache Beam)",
        description="Any standard Beam option (--runner, --project, --region, --temp_location, "
        "--setup_file, ...) is passed to the runner.",
        add_help=False,
    )
    p.add_argument("raw_argv", nargs=argparse.REMAINDER)
    p.set_defaults(func=run, accepts_extra=True)
