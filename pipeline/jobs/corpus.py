"""`flamingo corpus`: WARC/HTML in, M3W-style interleaved sequences out, on any Beam runner.

    flamingo corpus --input 'crawl/*.warc.gz' --output out/ [--filter.min_words 50 ...] [Beam options]

Read → Extract → FilterText → Deduplicate → AttachImages → Sequences → AssignShards →
WriteShards, then ``manifest.json``, ``stats.json``, ``report.md`` and ``config.json`` in
the output directory. With no ``--runner`` the job runs on Beam's FnApiRunner in
multi-processing mode, one worker per core (offline; Prism would download a binary).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from dataclasses import dataclass, field

from pipeline.configcli import add_config_args, config_from_args, config_to_dict
from pipeline.dedup import DedupConfig
from pipeline.filters import TextFilterConfig
from pipeline.images import ImageConfig

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class CorpusConfig:
    tokenizer: str | None = field(default=None, metadata={"help": "HF tokenizer name/path; default SmolLM2-135M (offline GGUF)"})
    max_tokens: int = field(default=256, metadata={"help": "tokens per sequence"})
    max_images: int = field(default=5, metadata={"help": "images per sequence"})
    samples_per_shard: int = 1000
    shard_prefix: str = "corpus"
    max_repeat_docs: int = field(default=10, metadata={"help": "drop images whose perceptual hash is in more documents"})
    keep_docs_without_images: bool = False
    keep_work: bool = field(default=False, metadata={"help": "keep OUTPUT/_work (image store) after success"})
    filter: TextFilterConfig = field(default_factory=TextFilterConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    image: ImageConfig = field(default_factory=ImageConfig)


def local_runner_args(argv: list[str]) -> list[str]:
    """Default to the embedded multi-process FnApiRunner unless a runner is given."""
    if any(a == "--runner" or a.startswith("--runner=") for a in argv):
        return argv
    workers = os.cpu_count() or 1
    return [*argv, "--runner", "FnApiRunner", "--direct_running_mode", "multi_processing",
            f"--direct_num_workers={workers}"]


def is_local(beam_args: list[str]) -> bool:
    runner = next((a.split("=", 1)[1] if "=" in a else beam_args[i + 1]
                   for i, a in enumerate(beam_args) if a.startswith("--runner")), "")
    return runner.lower().replace("runner", "") in ("fnapi", "direct", "")


def build_pipeline(p, inputs: list[str], output: str, cfg: CorpusConfig, *, resume: bool,
                   progress_root: str | None):
    """Wire the stages; returns the PCollection of written shards' manifest entries."""
    import apache_beam as beam

    from pipeline.transforms import AssignShards, ExtractFn, ReadCrawl, SequencesFn, WriteShardsFn
    from pipeline.transforms_images import AttachImages
    from pipeline.dedup import doc_id
    from pipeline.transforms_text import Deduplicate, FilterText

    work = f"{output.rstrip('/')}/_work"
    crawl_root, image_root = f"{work}/crawl", f"{work}/images"
    pages, crawl_images = p | "ReadCrawl" >> ReadCrawl(inputs, crawl_root, progress_root)
    # Extract runs fused with the read (see ReadCrawl); the documents, ~20x smaller than their
    # HTML, are then spread over all workers for the rest of the job.
    docs = pages | "Extract" >> beam.ParDo(ExtractFn()) | "SpreadDocs" >> beam.Reshuffle()
    kept = (docs | "FilterText" >> FilterText(cfg.filter)).kept
    unique = kept | "Deduplicate" >> Deduplicate(cfg.dedup)
    keyed = unique | "KeyByDocId" >> beam.Map(lambda d: (doc_id(d.url), d))
    assembled = (keyed, crawl_images) | "AttachImages" >> AttachImages(
        cfg.image, crawl_root, image_root, max_repeat_docs=cfg.max_repeat_docs,
        keep_docs_without_images=cfg.keep_docs_without_images, progress_root=progress_root,
    )
    seqs = assembled | "Sequences" >> beam.ParDo(SequencesFn(cfg.tokenizer, cfg.max_tokens, cfg.max_images))
    return (
        seqs
        | "AssignShards" >> AssignShards(cfg.samples_per_shard)
        | "WriteShards" >> beam.ParDo(WriteShardsFn(output, image_root, cfg.shard_prefix, resume, progress_root))
    )


def parse_args(argv: list[str]):
    parser = argparse.ArgumentParser(prog="flamingo corpus", description=__doc__.split("\n\n")[0])
    add_cli_args(parser)
    args, beam_args = parser.parse_known_args(argv)
    return args, beam_args


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", nargs="+", required=True, metavar="GLOB", help="WARC/HTML files or globs")
    parser.add_argument("--output", required=True, help="output directory (local or gs://, s3://)")
    parser.add_argument("--resume", action="store_true", help="continue into an existing output, skipping finished shards")
    add_config_args(parser, CorpusConfig)


def check_output(output: str, resume: bool) -> None:
    if "://" in output:
        return
    if os.path.isdir(output) and any(n.endswith(".tar") for n in os.listdir(output)) and not resume:
        raise SystemExit(f"flamingo corpus: {output} already holds shards; pass --resume or use a new directory")
    os.makedirs(output, exist_ok=True)


def run(argv: list[str] | None = None) -> dict:
    """Run the job; returns the stats dict that is also written to ``stats.json``."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline import report
    from pipeline.progress import ProgressDisplay

    args, beam_args = parse_args(sys.argv[1:] if argv is None else argv)
    cfg = config_from_args(CorpusConfig, args)
    beam_args = local_runner_args(beam_args)
    output = args.output.rstrip("/")
    check_output(output, args.resume)
    local = is_local(beam_args) and "://" not in output
    progress_root = os.path.join(output, "_work", "progress") if local else None
    if progress_root:
        shutil.rmtree(progress_root, ignore_errors=True)
    report.write_json(output, "config.json", {"inputs": args.input, "output": output, "beam_args": beam_args,
                                              "config": config_to_dict(cfg)})
    display = ProgressDisplay(progress_root) if progress_root else None
    if display:
        display.start()
    try:
        p = beam.Pipeline(options=PipelineOptions(beam_args))
        build_pipeline(p, args.input, output, cfg, resume=args.resume, progress_root=progress_root)
        result = p.run()
        result.wait_until_finish()
    finally:
        if display:
            display.stop()
    stats = report.finish_job(output, result, kind="corpus")
    if local and not cfg.keep_work:
        shutil.rmtree(os.path.join(output, "_work"), ignore_errors=True)
    log.info("wrote %s shards, %s sequences to %s", len(stats["shards"]), stats["samples"], output)
    return stats
