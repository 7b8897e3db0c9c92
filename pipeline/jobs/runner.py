"""What every job does around its pipeline: its command line, checks before any work, the
runner, progress, and the job-level outputs.

A job module declares its config and builds its stages; this module

* parses ``--input``/``--output``/``--resume``/``--config`` and the config's flags, and passes
  on only the Beam pipeline options Beam knows (anything else is an error naming the closest
  known option);
* checks what it can before Beam starts: every option's value (``flamingo.typedconfig.check``),
  the inputs match files of a known type, no local path is handed to workers that may not
  share this machine's disk, and the output is claimed for this job alone
  (:mod:`pipeline.jobs.output`: lock, existing files, ``--resume`` fingerprint);
* runs on the given runner, or on the embedded multi-process FnApiRunner with every option
  reaching its workers and their start-up chatter silenced;
* writes ``config.json``, shows progress on local runs, and writes ``stats.json``,
  ``report.md`` and, last, ``manifest.json`` at the end, all through Beam's filesystems.

``FLAMINGO_WORKER_COMMAND`` (for test harnesses) replaces the embedded runner's worker command
line (``python -m pipeline.beam.worker``); its workers are then treated like a cluster's, as
sharing no disk with the launcher.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterable

from flamingo import typedconfig as tc
from flamingo.typedconfig import UsageError

log = logging.getLogger(__name__)

BEAM_OPTIONS_HINT = ("Beam pipeline options (--runner, --project, --region, --temp_location, --setup_file, "
                     "--sdk_container_image, --max_num_workers, ...) go to the runner; --help_beam lists them")


# ------------------------------------------------------------------------------ arguments


def job_parser(prog: str, description: str, config_cls: type, input_help: str) -> argparse.ArgumentParser:
    parser = tc.ArgumentParser(prog=prog, description=description, epilog=BEAM_OPTIONS_HINT + ".",
                               usage=f"{prog} --input GLOB... --output DIR [options] [Beam pipeline options]")
    parser.add_argument("--input", nargs="+", required=True, metavar="GLOB", help=input_help)
    parser.add_argument("--output", required=True, metavar="DIR", help="output directory (local, gs://, s3://)")
    parser.add_argument("--work_dir", metavar="DIR", help="the job's image store and scratch files "
                        "(default: OUTPUT/_work; removed after success)")
    parser.add_argument("--resume", action="store_true", help="continue into an existing output, "
                        "skipping finished shards (its options must match config.json's)")
    parser.add_argument("--break_lock", action="store_true", help="take over the output's lock "
                        "left by a job that is gone")
    parser.add_argument("--config", metavar="FILE", help="JSON or TOML file of options (a job's config.json "
                        "too); flags override it")
    parser.add_argument("--help_beam", action="store_true", help="list Beam's pipeline options and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, Beam's own included")
    tc.add_flags(parser, config_cls)
    return parser


def parse_job_args(parser: argparse.ArgumentParser, config_cls: type, argv: list[str]):
    """argv -> (args, resolved and checked config, Beam pipeline arguments)."""
    if "--help_beam" in argv:
        print(_beam_parser().format_help())
        raise SystemExit(0)
    args, rest = parser.parse_known_args(argv)
    beam_args = beam_arguments(rest, known=[*tc.flag_names(config_cls), "--input", "--output", "--resume",
                                            "--config", "--work_dir", "--break_lock"])
    cfg = tc.resolve(config_cls, args, data=_config_file(args.config))
    return args, cfg, beam_args


def _config_file(path: str | None) -> dict | None:
    """The options of a ``--config`` file; a job's own ``config.json`` holds them under ``config``."""
    if path is None:
        return None
    data = tc.load_file(path)
    if isinstance(data.get("config"), dict) and "inputs" in data:
        return data["config"]
    return data


def _beam_parser() -> argparse.ArgumentParser:
    """An argument parser that knows every Beam pipeline option (as Beam builds it)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    parser = argparse.ArgumentParser(prog="Beam pipeline options", allow_abbrev=False, add_help=False)
    for cls in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(parser)  # noqa: SLF001 (how Beam itself collects them)
    return parser


def beam_arguments(rest: list[str], known: Iterable[str]) -> list[str]:
    """The arguments left after ours: Beam's pipeline options, or a ConfigError for the first
    one Beam does not know either (with the closest option of ours or Beam's suggested)."""
    if not rest:
        return []
    parser = _beam_parser()
    _, unknown = parser.parse_known_args(rest)
    if unknown:
        flags = [a for a in parser._option_string_actions if a.startswith("--")]  # noqa: SLF001
        bad = next((u for u in unknown if u.startswith("-")), unknown[0])
        if not bad.startswith("-"):
            raise UsageError(f"unexpected argument {bad!r}", "options take the form --name value")
        raise tc.unknown_option_error(bad, [*known, *flags])
    return rest


# --------------------------------------------------------------------------- launch checks


def job_paths(args) -> tuple[str, str]:
    """(output, work directory) as given: no trailing slash, local paths absolute."""
    output = _absolute(args.output.rstrip("/"))
    work_dir = _absolute((args.work_dir or f"{output}/_work").rstrip("/"))
    return output, work_dir


def _absolute(path: str) -> str:
    return path if "://" in path else os.path.abspath(path)


def match_inputs(patterns: list[str], known_type: Callable[[str], bool], known_types: str) -> list[str]:
    """Patterns (a directory means its files) -> the patterns the job reads; UsageError for a
    pattern that matches nothing, or inputs none of which is a known type."""
    from apache_beam.io.filesystems import FileSystems

    expanded, files = [], []
    for pattern in patterns:
        if pattern.endswith("/") or ("://" not in pattern and os.path.isdir(pattern)):
            pattern = pattern.rstrip("/") + "/*"
        try:
            found = [m.path for m in FileSystems.match([pattern])[0].metadata_list]
        except Exception as e:  # noqa: BLE001 (each filesystem raises its own types)
            raise UsageError(f"--input {pattern}: cannot list it ({type(e).__name__}: {e})") from None
        if not found:
            raise UsageError(f"--input {pattern} matches no file")
        expanded.append(_absolute(pattern))
        files += found
    if not any(known_type(f) for f in files):
        raise UsageError(f"none of the {len(files)} input files is of a known type", f"known: {known_types}")
    return expanded


def matched_files(patterns: list[str]) -> list[str]:
    """Every file the (checked) patterns match, sorted."""
    from apache_beam.io.filesystems import FileSystems

    return sorted({m.path for p in patterns for m in FileSystems.match([p])[0].metadata_list})


def check_locality(paths: dict[str, str], beam_args: list[str]) -> None:
    """Refuse a local path (``--output``, ``--work_dir``) that workers must write when they may
    not share this machine's disk (any runner but the embedded one, or a harness's workers)."""
    if workers_share_disk(beam_args):
        return
    for flag, path in paths.items():
        if path and "://" not in path:
            raise UsageError(f"{flag} {path} is on this machine's disk, which the workers of "
                             f"{runner_name(beam_args)} may not share",
                             "use an object store (gs://, s3://) that every worker can reach")


# ---------------------------------------------------------------------------------- runner


def local_runner_args(argv: list[str]) -> list[str]:
    """Defaults for the embedded runner unless a runner is given: one worker per core, and the
    workers' own logging at WARNING. Beam's Prism runner downloads a binary at run time, so it
    is never the default."""
    if is_given(argv, "--runner"):
        return argv
    defaults = [f"--direct_num_workers={os.cpu_count() or 1}"] if not is_given(argv, "--direct_num_workers") else []
    if not is_given(argv, "--default_sdk_harness_log_level"):
        defaults.append("--default_sdk_harness_log_level=WARNING")
    return [*argv, *defaults]


def is_given(argv: list[str], flag: str) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in argv)


def _runner(beam_args: list[str]) -> str:
    return next((a.split("=", 1)[1] if "=" in a else beam_args[i + 1]
                 for i, a in enumerate(beam_args) if a.startswith("--runner")), "")


def runner_name(beam_args: list[str]) -> str:
    return _runner(beam_args) or "the embedded runner"


def is_local(beam_args: list[str]) -> bool:
    """Whether the runner's workers run on this machine (the embedded runners, Prism)."""
    return _runner(beam_args).lower().replace("runner", "") in ("fnapi", "direct", "prism", "")


def worker_command() -> str:
    """The embedded runner's worker command line (a harness may replace it)."""
    return os.environ.get("FLAMINGO_WORKER_COMMAND") or f"{sys.executable} -m pipeline.beam.worker"


def workers_share_disk(beam_args: list[str]) -> bool:
    return is_local(beam_args) and not os.environ.get("FLAMINGO_WORKER_COMMAND")


def make_pipeline(beam_args: list[str]):
    """A Beam pipeline: on the given runner, or on the embedded FnApiRunner whose worker
    processes get every pipeline option (Beam's multi-processing mode hands them none, so
    e.g. ``--s3_endpoint_url`` or the log level would not reach them) and a shuffle's output in
    bounded pieces (:mod:`pipeline.beam.embedded`)."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

    options = PipelineOptions(beam_args)
    if not is_local(beam_args) or is_given(beam_args, "--runner"):
        return beam.Pipeline(options=options)
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle
    from apache_beam.transforms.environments import SubprocessSDKEnvironment

    from pipeline.beam.embedded import bound_worker_inputs
    from pipeline.beam.zygote import Zygote

    options.view_as(DirectOptions).direct_running_mode = "in_memory"  # the environment below decides
    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    zygote = None if os.environ.get("FLAMINGO_WORKER_COMMAND") else Zygote.start("pipeline.beam.worker:main",
                                                                                 preload_modules())
    runner = fn_runner.FnApiRunner(
        use_state_iterables=bound_worker_inputs(),  # shuffles reach workers in pieces
        default_environment=SubprocessSDKEnvironment.from_command_string(
            zygote.command if zygote else worker_command()),
        provision_info=fn_runner.ExtendedProvisionInfo(
            beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)))
    if zygote:
        runner.run_pipeline = _stopping(runner.run_pipeline, zygote)
    return beam.Pipeline(runner=runner, options=options)


def preload_modules() -> list[str]:
    """What the workers' zygote imports for them: the project's modules this launcher has loaded
    (the job's stages and what they import), and the worker entry point."""
    own = sorted(m for m in list(sys.modules) if m.split(".")[0] in ("pipeline", "flamingo")
                 and not m.startswith(("pipeline.cli", "pipeline.jobs")))
    return ["apache_beam.runners.worker.sdk_worker_main", *own, "pipeline.beam.worker"]


def _stopping(run: Callable, zygote) -> Callable:
    """``run``, then the zygote ended and reaped (the embedded runner runs a pipeline to its end)."""
    def run_pipeline(*args, **kwargs):
        try:
            return run(*args, **kwargs)
        finally:
            zygote.stop()
    return run_pipeline


def prepare_beam_args(beam_args: list[str]) -> list[str]:
    """The runner's defaults added, and Beam's filesystems configured with the options (object
    store endpoints and credentials) in this process too."""
    from pipeline.beam import files

    beam_args = local_runner_args(beam_args)
    files.configure(beam_args)
    return beam_args


def run_job(*, job: str, output: str, work_dir: str, beam_args: list[str], resume: bool, keep_work: bool,
            record: dict, not_shaping: tuple[str, ...], prefix: str, break_lock: bool = False,
            build: Callable[[object, str | None], object]) -> dict:
    """Claim the output, run ``build(pipeline, progress_root)`` (which returns the written
    shards' histograms as a PCollection) on a runner, write the job files; return the stats.

    ``beam_args`` come from :func:`prepare_beam_args`; inputs and assets were checked before.
    """
    from pipeline.beam import files
    from pipeline.jobs import output as out
    from pipeline.jobs import report
    from pipeline.shards.manifest import JOB_MANIFEST

    claim = out.claim(output, job=job, resume=resume, prefix=prefix, break_lock=break_lock)
    try:
        record = {**record, "output": output, "work_dir": work_dir, "beam_args": out.redact(beam_args)}
        record["fingerprint"] = out.fingerprint(out.shaping(record, not_shaping))
        if resume:
            out.check_resume(output, record, not_shaping)
        # From here until the very end the output has no job-level manifest: whatever stops the
        # job (a kill, a full disk) leaves it looking unfinished.
        files.delete([files.join(output, JOB_MANIFEST)])
        if not (resume and files.exists(files.join(output, out.CONFIG))):
            report.write_json(output, out.CONFIG, record)
        histograms_path = files.join(work_dir, "histograms.json")
        files.delete([histograms_path])
        stats = _run(job, output, work_dir, beam_args, prefix, histograms_path, build)
        out.clean_after_success(output, work_dir, keep_work)
    finally:
        claim.release()
    log.info("%s: wrote %s shards, %s samples to %s", job, len(stats["shards"]), stats["samples"], output)
    return stats


def _run(job, output, work_dir, beam_args, prefix, histograms_path, build) -> dict:
    from pipeline.beam import files
    from pipeline.beam.progress import ProgressDisplay
    from pipeline.beam.shards import WriteHistograms
    from pipeline.jobs import report

    local = workers_share_disk(beam_args) and "://" not in work_dir
    progress_root = os.path.join(work_dir, "progress") if local else None
    if progress_root:
        shutil.rmtree(progress_root, ignore_errors=True)
    display = ProgressDisplay(progress_root, written="pairs" if job == "pairs" else "sequences") if local else None
    if display:
        display.start()
    try:
        p = make_pipeline(beam_args)
        histograms = build(p, progress_root)
        _ = histograms | "WriteHistograms" >> WriteHistograms(histograms_path)
        result = p.run()
        result.wait_until_finish()
    finally:
        if display:
            display.stop()
    hists = files.read_json(histograms_path)
    return report.finish_job(output, result, kind=job, prefix=prefix,
                             histograms={k: {int(v): n for v, n in h.items()} for k, h in hists.items()})
