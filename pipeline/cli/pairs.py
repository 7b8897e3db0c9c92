"""`flamingo pairs`: see pipeline.jobs.pairs."""

from pipeline.cli.jobs import add_job_parser


def add_parser(sub) -> None:
    add_job_parser(sub, "pairs")
