"""`flamingo corpus` and `flamingo pairs`: every argument after the subcommand goes to the job's
own parser (generated from its config), the rest of the Beam options to the runner."""

from __future__ import annotations

import argparse
import importlib

JOBS = {
    "corpus": ("pipeline.jobs.corpus", "WARC/HTML -> interleaved M3W-style sequence shards (Apache Beam)"),
    "pairs": ("pipeline.jobs.pairs",
              "crawls or URL+caption lists -> image-text pair shards, img2dataset layout (Apache Beam)"),
}


def add_job_parser(sub, name: str) -> None:
    module, help_ = JOBS[name]

    def run(args: argparse.Namespace, extra: list[str]) -> int:
        importlib.import_module(module).run([*extra, *args.raw_argv])
        return 0

    p = sub.add_parser(
        name, help=help_, add_help=False,
        description="Any standard Beam option (--runner, --project, --region, --temp_location, "
        "--setup_file, ...) is passed to the runner.",
    )
    p.add_argument("raw_argv", nargs=argparse.REMAINDER)
    p.set_defaults(func=run, accepts_extra=True)
