"""`flamingo corpus`: WARC/HTML in, M3W-style interleaved sequences out, on any Beam runner.

    flamingo corpus --input 'crawl/*.warc.gz' --output out/ [--filter.min_words 50 ...] [Beam options]

Read → Extract → FilterText → Deduplicate → AttachImages → Sequences → AssignShards →
WriteShards, then ``manifest.json``, ``stats.json``, ``report.md`` and ``config.json`` in
the output directory. With no ``--runner`` the job runs on Beam's FnApiRunner in
multi-processing mode, one worker per core (offline; Prism would download a binary).
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field

from pipeline.configcli import add_config_args, config_from_args, config_to_dict
from pipeline.dedup import DedupConfig
from pipeline.filter.text import TextFilterConfig
from pipeline.images import ImageConfig
from pipeline.jobs.runner import is_local, local_runner_args, run_job  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class CorpusConfig:
    tokenizer: str | None = field(default=None, metadata={"help": "HF tokenizer name/path; default SmolLM2-135M (offline GGUF)"})
    max_tokens: int = field(default=256, metadata={"help": "tokens per sequence"})
    max_images: int = field(default=5, metadata={"help": "images per sequence"})
    samples_per_shard: int = 1000
    split_mb: int = field(default=64, metadata={"help": "read big per-record-gzip WARCs in ranges of this many MB"})
    shard_prefix: str = "corpus"
    max_repeat_docs: int = field(default=10, metadata={"help": "drop images whose perceptual hash is in more documents"})
    keep_docs_without_images: bool = False
    keep_work: bool = field(default=False, metadata={"help": "keep OUTPUT/_work (image store) after success"})
    filter: TextFilterConfig = field(default_factory=TextFilterConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    image: ImageConfig = field(default_factory=ImageConfig)


def build_pipeline(p, inputs: list[str], output: str, cfg: CorpusConfig, *, resume: bool,
                   progress_root: str | None):
    """Wire the stages; returns the PCollection of written shards' manifest entries."""
    import apache_beam as beam

    from pipeline.beam.read import AssignShards, ExtractFn, ReadCrawl, SequencesFn, WriteShardsFn
    from pipeline.beam.images import AttachImages
    from pipeline.dedup import doc_id
    from pipeline.beam.dedup import Deduplicate, FilterText

    work = f"{output.rstrip('/')}/_work"
    crawl_root, image_root = f"{work}/crawl", f"{work}/images"
    pages, crawl_images = p | "ReadCrawl" >> ReadCrawl(inputs, crawl_root, progress_root, split_bytes=cfg.split_mb << 20)
    # Extract runs fused with the read (see ReadCrawl); the documents, ~20x smaller than their
    # HTML, are then spread over all workers for the rest of the job.
    docs = (pages | "Extract" >> beam.ParDo(ExtractFn(agent_token=cfg.image.agent_token))
            | "SpreadDocs" >> beam.Reshuffle())
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


def run(argv: list[str] | None = None) -> dict:
    """Run the job; returns the stats dict that is also written to ``stats.json``."""
    args, beam_args = parse_args(sys.argv[1:] if argv is None else argv)
    cfg = config_from_args(CorpusConfig, args)
    output = args.output.rstrip("/")
    return run_job(
        job="corpus", output=output, beam_args=beam_args, resume=args.resume, keep_work=cfg.keep_work,
        config={"inputs": args.input, "config": config_to_dict(cfg)},
        build=lambda p, progress: build_pipeline(p, args.input, output, cfg, resume=args.resume,
                                                 progress_root=progress),
    )
