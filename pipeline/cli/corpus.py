"""`flamingo corpus`: see pipeline.jobs.corpus."""

from pipeline.cli.jobs import add_job_parser


def add_parser(sub) -> None:
    add_job_parser(sub, "corpus")
