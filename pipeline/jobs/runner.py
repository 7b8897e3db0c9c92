"""What every job does around its pipeline: runner defaults, output checks, progress, reports.

A job module builds its stages; :func:`run_job` picks the embedded runner when none is
given, refuses to write over finished shards unless resuming, records the resolved
options, shows progress on local runs, and writes the job-level outputs.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable

log = logging.getLogger(__name__)


def local_runner_args(argv: list[str]) -> list[str]:
    """Default to the embedded multi-process FnApiRunner (one worker per core) unless a runner
    is given. Beam's Prism runner downloads a binary at run time, so it is never the default."""
    if any(a == "--runner" or a.startswith("--runner=") for a in argv):
        return argv
    workers = os.cpu_count() or 1
    quiet = [] if any(a.startswith("--default_sdk_harness_log_level") for a in argv) else [
        "--default_sdk_harness_log_level=WARNING"  # worker processes narrate every bundle at INFO
    ]
    return [*argv, "--runner", "FnApiRunner", "--direct_running_mode", "multi_processing",
            f"--direct_num_workers={workers}", *quiet]


def is_local(beam_args: list[str]) -> bool:
    runner = next((a.split("=", 1)[1] if "=" in a else beam_args[i + 1]
                   for i, a in enumerate(beam_args) if a.startswith("--runner")), "")
    return runner.lower().replace("runner", "") in ("fnapi", "direct", "")


def check_output(output: str, resume: bool, job: str = "corpus") -> None:
    if "://" in output:
        return
    if os.path.isdir(output) and any(n.endswith(".tar") for n in os.listdir(output)) and not resume:
        raise SystemExit(f"flamingo {job}: {output} already holds shards; pass --resume or use a new directory")
    os.makedirs(output, exist_ok=True)


def run_job(*, job: str, output: str, beam_args: list[str], resume: bool, keep_work: bool,
            config: dict, build: Callable[[object, str | None], None]) -> dict:
    """Run ``build(pipeline, progress_root)`` on a runner; return the job's stats."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.jobs import report
    from pipeline.beam.progress import ProgressDisplay

    beam_args = local_runner_args(beam_args)
    check_output(output, resume, job)
    local = is_local(beam_args) and "://" not in output
    progress_root = os.path.join(output, "_work", "progress") if local else None
    if progress_root:
        shutil.rmtree(progress_root, ignore_errors=True)
    report.write_json(output, "config.json", {**config, "output": output, "beam_args": beam_args})
    written = "pairs" if job == "pairs" else "sequences"
    display = ProgressDisplay(progress_root, written=written) if progress_root else None
    if display:
        display.start()
    try:
        p = beam.Pipeline(options=PipelineOptions(beam_args))
        build(p, progress_root)
        result = p.run()
        result.wait_until_finish()
    finally:
        if display:
            display.stop()
    stats = report.finish_job(output, result, kind=job)
    if local and not keep_work:
        shutil.rmtree(os.path.join(output, "_work"), ignore_errors=True)
    log.info("%s: wrote %s shards, %s samples to %s", job, len(stats["shards"]), stats["samples"], output)
    return stats
