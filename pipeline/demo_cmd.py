"""`flamingo demo`: the demo that `make demo` runs (see pipeline.demo)."""

import argparse


def run(args: argparse.Namespace, extra: list[str]) -> int:
    from pipeline.demo import main

    return main([*extra, *args.raw_argv])


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="sample crawl -> corpus and pairs jobs -> a few training steps, offline",
                       add_help=False)
    p.add_argument("raw_argv", nargs=argparse.REMAINDER)
    p.set_defaults(func=run, accepts_extra=True)
