"""`flamingo pairs`: see pipeline.jobs.pairs and pipeline.job_cmd."""

from pipeline.job_cmd import add_job_parser


def add_parser(sub) -> None:
    add_job_parser(sub, "pairs")
