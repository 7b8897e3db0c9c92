"""`flamingo export`: our interleaved shards in another trainer's layout, on any Beam runner.

    flamingo export --format mmc4|obelics --input SHARDS... --output DIR [Beam options]

One output file per input shard, named after it, streamed and deterministic: ``mmc4`` writes
tars that OpenFlamingo's MMC4 loader reads as they are (:mod:`pipeline.export.mmc4`);
``obelics`` writes OBELICS-layout parquet with the images embedded, which Hugging Face
``datasets`` loads with every image decoded (:mod:`pipeline.export.obelics`). Then
``sizes.json`` (samples per file) and, last, ``manifest.json``; ``config.json`` first.
"""

from __future__ import annotations

import logging
import sys

from flamingo import typedconfig as tc
from flamingo.typedconfig import UsageError, config, opt, to_dict
from pipeline.jobs.runner import (
    BEAM_OPTIONS_HINT,
    check_locality,
    job_paths,
    make_pipeline,
    match_inputs,
    matched_files,
    parse_job_args,
    prepare_beam_args,
)

log = logging.getLogger(__name__)
FORMATS = ("mmc4", "obelics")


@config
class ExportConfig:
    format: str = opt("mmc4", "mmc4: OpenFlamingo's MMC4 tars; obelics: OBELICS parquet with the images "
                      "embedded (Hugging Face datasets)", choices=FORMATS)


def parser():
    prog = "flamingo export"
    p = tc.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0], epilog=BEAM_OPTIONS_HINT + ".",
                          usage=f"{prog} --format mmc4|obelics --input SHARDS... --output DIR [Beam pipeline options]")
    p.add_argument("--input", nargs="+", required=True, metavar="GLOB", help="our interleaved shards (.tar files, "
                   "directories, globs; local, gs://, s3://)")
    p.add_argument("--output", required=True, metavar="DIR", help="output directory (local, gs://, s3://)")
    p.add_argument("--resume", action="store_true", help="write into the output of an export that stopped "
                   "(every shard is converted again: the outputs are deterministic)")
    p.add_argument("--break_lock", action="store_true", help="take over the output's lock left by a job that is gone")
    p.add_argument("--config", metavar="FILE", help="JSON or TOML file of options; flags override it")
    p.add_argument("--help_beam", action="store_true", help="list Beam's pipeline options and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging, Beam's own included")
    tc.add_flags(p, ExportConfig)
    return p


def shard_list(patterns: list[str]) -> list[str]:
    """Every ``.tar`` the patterns match; UsageError if two share a name (outputs follow names)."""
    shards = [p for p in matched_files(match_inputs(patterns, lambda p: p.endswith(".tar"), ".tar shards"))
              if p.endswith(".tar")]
    if not shards:
        raise UsageError(f"no .tar shards among {' '.join(patterns)}")
    names: dict[str, str] = {}
    for path in shards:
        base = path.rsplit("/", 1)[-1]
        if base in names:
            raise UsageError(f"two input shards are named {base} ({names[base]}, {path})",
                             "export one directory at a time")
        names[base] = path
    return shards


def check_interleaved(shard: str) -> None:
    """UsageError unless the first samples of the first shard include interleaved ones."""
    from pipeline.beam import files
    from pipeline.shards import layouts, reader

    found = []
    with files.open_read(shard) as f:
        for raw in reader.iter_raw(f, shard):
            found.append("invalid" if raw.problems else layouts.layout_of(raw.members, raw.key))
            if len(found) == layouts.FIRST_SAMPLES:
                break
    if "interleaved" not in found:
        top = max(set(found), key=found.count) if found else "no"
        what = layouts.WHAT.get(top, f"{top} samples")
        raise UsageError(f"{shard}: the first {len(found)} samples are {what}, not interleaved sequences",
                         "export converts the corpus job's shards; pair shards are in img2dataset's layout, "
                         "which OpenFlamingo's LAION loader and open_clip read as they are")


def run(argv: list[str] | None = None) -> dict:
    """Run the export; returns ``manifest.json``'s content."""
    from pipeline.beam import files
    from pipeline.jobs import output as out

    args, cfg, beam_args = parse_job_args(parser(), ExportConfig, sys.argv[1:] if argv is None else argv)
    args.work_dir = None  # export needs no scratch space
    output, _ = job_paths(args)
    beam_args = prepare_beam_args(beam_args)
    check_locality({"--output": output}, beam_args)
    shards = shard_list(args.input)
    check_interleaved(shards[0])
    claim = out.claim(output, job="export", resume=args.resume, prefix="", break_lock=args.break_lock)
    try:
        files.delete([files.join(output, "manifest.json")])
        files.write_json(files.join(output, out.CONFIG), {"job": "export", "inputs": shards, "config": to_dict(cfg),
                                                          "output": output, "beam_args": out.redact(beam_args)})
        from pipeline.beam.export import ExportShards

        p = make_pipeline(beam_args)
        _ = p | "Export" >> ExportShards(shards, output, cfg.format)
        p.run().wait_until_finish()
    finally:
        claim.release()
    manifest = files.read_json(files.join(output, "manifest.json"))
    log.info("export: %s samples, %s images in %s %s files in %s", manifest["samples"], manifest["images"],
             len(manifest["files"]), cfg.format, output)
    return manifest
