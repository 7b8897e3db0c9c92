"""What every job does around its pipeline: its command line, checks before any work, the
runner, progress, and the job-level outputs.

A job module declares its config and builds its stages; this module

* parses ``--input``/``--output``/``--resume``/``--config`` and the config's flags, and passes
  on only the Beam pipeline options Beam knows (anything else is an error naming the closest
  known option);
* checks what it can before Beam starts: the inputs match files of a known type, the output is
  a directory it may write, every option's value (``flamingo.typedconfig.check``);
* runs on the given runner, or on the embedded multi-process FnApiRunner with every option
  reaching its workers and their start-up chatter silenced;
* writes ``config.json``, shows progress on local runs, and writes ``manifest.json``,
  ``stats.json`` and ``report.md`` at the end.
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
    parser.add_argument("--resume", action="store_true", help="continue into an existing output, "
                        "skipping finished shards")
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
                                            "--config"])
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
        expanded.append(pattern)
        files += found
    if not any(known_type(f) for f in files):
        raise UsageError(f"none of the {len(files)} input files is of a known type", f"known: {known_types}")
    return expanded


def check_output(output: str, resume: bool) -> None:
    """The output must be a directory we may write that does not hold another job's shards."""
    if "://" in output:
        return
    if os.path.exists(output) and not os.path.isdir(output):
        raise UsageError(f"--output {output} is a file", "give a directory")
    if os.path.isdir(output) and not resume and any(n.endswith(".tar") for n in os.listdir(output)):
        raise UsageError(f"--output {output} already holds shards",
                         "pass --resume to continue that job, or choose a new directory")
    try:
        os.makedirs(output, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--output {output}: cannot create it ({e.strerror})") from None
    if not os.access(output, os.W_OK):
        raise UsageError(f"--output {output} is not writable")


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


def is_local(beam_args: list[str]) -> bool:
    runner = next((a.split("=", 1)[1] if "=" in a else beam_args[i + 1]
                   for i, a in enumerate(beam_args) if a.startswith("--runner")), "")
    return runner.lower().replace("runner", "") in ("fnapi", "direct", "")


def make_pipeline(beam_args: list[str]):
    """A Beam pipeline: on the given runner, or on the embedded FnApiRunner whose worker
    processes get every pipeline option (Beam's multi-processing mode hands them none, so
    e.g. ``--s3_endpoint_url`` or the log level would not reach them)."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

    options = PipelineOptions(beam_args)
    if not is_local(beam_args) or is_given(beam_args, "--runner"):
        return beam.Pipeline(options=options)
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle
    from apache_beam.transforms.environments import SubprocessSDKEnvironment

    options.view_as(DirectOptions).direct_running_mode = "in_memory"  # the environment below decides
    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    runner = fn_runner.FnApiRunner(
        default_environment=SubprocessSDKEnvironment.from_command_string(
            f"{sys.executable} -m pipeline.beam.worker"),
        provision_info=fn_runner.ExtendedProvisionInfo(
            beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)))
    return beam.Pipeline(runner=runner, options=options)


def run_job(*, job: str, output: str, beam_args: list[str], resume: bool, keep_work: bool,
            config: dict, build: Callable[[object, str | None], None]) -> dict:
    """Run ``build(pipeline, progress_root)`` on a runner; return the job's stats. The job has
    checked its output (:func:`check_output`) and inputs before."""
    from pipeline.beam.progress import ProgressDisplay
    from pipeline.jobs import report

    beam_args = local_runner_args(beam_args)
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
        p = make_pipeline(beam_args)
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
