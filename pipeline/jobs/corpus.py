"""`flamingo corpus`: WARC/HTML (or OBELICS/MMC4 documents) in, M3W-style interleaved sequences out.

    flamingo corpus --input 'crawl/*.warc.gz' --output out/ [--filter.min_words 50 ...] [Beam options]

ReadCrawl → Extract → FilterText → Deduplicate → AttachImages → Sequences → AssignShards →
WriteShards (OBELICS and MMC4 documents among the inputs, recognised by content, join after
Extract), with ``config.json`` written first and ``stats.json``, ``report.md`` and, last,
``manifest.json`` at the end, in the output directory (local, ``gs://``, ``s3://``). With no
``--runner`` the job runs on Beam's FnApiRunner with one worker process per core (offline;
Prism would download a binary).
"""

from __future__ import annotations

import logging
import os
import sys

from flamingo.typedconfig import UsageError, config, opt, require, section, to_dict
from pipeline.dedup.config import DedupConfig
from pipeline.extract.page import ExtractOptions
from pipeline.filter.text import TextFilterConfig
from pipeline.images.config import ImageConfig
from pipeline.jobs.runner import (
    check_locality,
    job_parser,
    job_paths,
    match_inputs,
    parse_job_args,
    prepare_beam_args,
    run_job,
)
from pipeline.read import warc

log = logging.getLogger(__name__)

KNOWN_INPUTS = (".warc, .warc.gz, .arc, .arc.gz, .html, .htm, .html.gz, .htm.gz; OBELICS parquet and MMC4 "
                "jsonl (plain, .gz, .zip), whatever their names")
# Options that change how the job runs, not what it writes: --resume accepts new values.
NOT_SHAPING = ("keep_work", "split_mb", "dropped_per_reason", "image.threads", "image.per_host_concurrency", "image.per_host_rate",
               "image.retries", "image.backoff_base_s", "image.backoff_max_s", "image.max_retry_after_s",
               "image.timeout_s", "image.connect_timeout_s", "image.dns_cache_ttl_s", "image.ca_bundle")
# The smallest sequence worth cutting: <image>, a few tokens of text, <|endofchunk|>.
MIN_TOKENS = 16


@config
class CorpusConfig:
    tokenizer: str | None = opt(None, "Hugging Face tokenizer name or directory that counts tokens; "
                                "none: SmolLM2-135M's, shipped with this package")
    max_tokens: int = opt(256, "tokens per sequence (Flamingo's M3W: 256)", min=MIN_TOKENS, max=1 << 20)
    max_images: int = opt(5, "images per sequence (Flamingo's M3W: 5)", min=1, max=64)
    samples_per_shard: int = opt(1000, "sequences per shard", min=1, max=10_000_000)
    split_mb: int = opt(64, "read big per-record-gzip WARCs in ranges of this many MB", min=1)
    shard_prefix: str = opt("corpus", "shard file names: PREFIX-00000.tar")
    max_repeat_docs: int = opt(10, "drop images whose perceptual hash is in more documents than this", min=1)
    keep_docs_without_images: bool = opt(False, "keep documents none of whose images survived")
    keep_work: bool = opt(False, "keep --work_dir (the image store) after success")
    mmc4_min_similarity: float = opt(0.0, "MMC4 inputs: drop images whose CLIP similarity to their matched "
                                     "sentence ('matched_sim') is below this", min=-1.0, max=1.0)
    dropped_per_reason: int = opt(8, "keep this many of each stage's drops per reason as shards in "
                                  "OUTPUT/dropped/, for the report and flamingo view (0: none)", min=0, max=1000)
    extract: ExtractOptions = section(ExtractOptions)
    filter: TextFilterConfig = section(TextFilterConfig)
    dedup: DedupConfig = section(DedupConfig)
    image: ImageConfig = section(ImageConfig)

    def validate(self) -> None:
        check_shard_prefix(self.shard_prefix, allow_empty=False)


def check_shard_prefix(prefix: str, *, allow_empty: bool) -> None:
    ok = all(c.isalnum() or c in "_-" for c in prefix) and not prefix.startswith("-")
    require(ok and (allow_empty or prefix != ""), "shard_prefix", f"{prefix!r} cannot start a shard file name",
            "letters, digits, '_' and '-'" + ("" if allow_empty else "; not empty"))


def build_pipeline(p, inputs: list[str], output: str, cfg: CorpusConfig, *, resume: bool,
                   progress_root: str | None, work_dir: str | None = None):
    """Wire the stages; returns the PCollection of written shards' (manifest entry, histograms)."""
    import apache_beam as beam

    from pipeline.beam.dedup import Deduplicate
    from pipeline.beam.extract import ExtractFn
    from pipeline.beam.filter import FilterText
    from pipeline.beam.images import AttachImages
    from pipeline.beam.read import ReadCrawl
    from pipeline.beam.sequences import SequencesFn
    from pipeline.beam.shards import AssignShards, WriteShardsFn
    from pipeline.dedup.keys import doc_id
    from pipeline.shards.format import KIND_INTERLEAVED

    work = (work_dir or f"{output.rstrip('/')}/_work").rstrip("/")
    crawl_root, image_root = f"{work}/crawl", f"{work}/images"
    pages, crawl_images, corpus_docs = p | "ReadCrawl" >> ReadCrawl(
        inputs, crawl_root, progress_root, split_bytes=cfg.split_mb << 20, documents=True,
        min_similarity=cfg.mmc4_min_similarity)
    # Extract runs fused with the read (see ReadCrawl); the documents, ~20x smaller than their
    # HTML, are then spread over all workers for the rest of the job. OBELICS and MMC4 documents
    # need no extraction and take the same road from here.
    extracted = pages | "Extract" >> beam.ParDo(ExtractFn(cfg.extract, agent_token=cfg.image.agent_token))
    docs = (extracted, corpus_docs) | "JoinDocs" >> beam.Flatten() | "SpreadDocs" >> beam.Reshuffle()
    filtered = docs | "FilterText" >> FilterText(cfg.filter)
    unique = filtered.kept | "Deduplicate" >> Deduplicate(cfg.dedup)
    keyed = unique | "KeyByDocId" >> beam.Map(lambda d: (doc_id(d.url), d))
    attach = AttachImages(
        cfg.image, crawl_root, image_root, max_repeat_docs=cfg.max_repeat_docs,
        keep_docs_without_images=cfg.keep_docs_without_images, progress_root=progress_root,
        keep_dropped=cfg.dropped_per_reason > 0,
    )
    assembled = (keyed, crawl_images) | "AttachImages" >> attach
    # A bounded sample of what the stages dropped -> OUTPUT/dropped/ (report.html, flamingo view).
    if cfg.dropped_per_reason:
        from pipeline.beam.dropped import SampleDropped, document_drops

        by_filter = filtered.dropped | "DroppedByFilter" >> beam.MapTuple(document_drops("filter"))
        ((by_filter, attach.dropped) | "AllDropped" >> beam.Flatten()
         | "SampleDropped" >> SampleDropped(output, image_root, cfg.dropped_per_reason))
    seqs = assembled | "Sequences" >> beam.ParDo(SequencesFn(cfg.tokenizer, cfg.max_tokens, cfg.max_images))
    return (
        seqs
        | "AssignShards" >> AssignShards(cfg.samples_per_shard)
        | "WriteShards" >> beam.ParDo(WriteShardsFn(output, image_root, cfg.shard_prefix, resume,
                                                    KIND_INTERLEAVED, progress_root))
    )


def parser():
    return job_parser("flamingo corpus", __doc__.split("\n\n")[0], CorpusConfig,
                      f"crawl files or globs: {KNOWN_INPUTS}; a directory means its files")


def parse_args(argv: list[str]):
    """argv -> (args, CorpusConfig, Beam arguments); every value checked, nothing run."""
    return parse_job_args(parser(), CorpusConfig, argv)


def check_assets(cfg: CorpusConfig) -> None:
    """Load what the workers will load, so a bad asset fails now rather than after the reading.
    The default tokenizer ships with the package: only its files are looked for."""
    from pipeline.sequences.tokenizer import default_tokenizer_files, load_counting_tokenizer

    name = cfg.tokenizer
    if name is None:
        try:
            default_tokenizer_files()
        except FileNotFoundError as e:
            raise UsageError(f"the default tokenizer is missing: {e}", "reinstall flamingo-kit, "
                             "or pass --tokenizer") from None
        return
    if name and name.startswith(("/", ".", "~")) and not os.path.isdir(os.path.expanduser(name)):
        raise UsageError(f"--tokenizer {name}: no such directory", "a Hugging Face tokenizer name or a local "
                         "tokenizer directory")
    try:
        load_counting_tokenizer(cfg.tokenizer)
    except Exception as e:  # noqa: BLE001 (transformers raises many types for a bad name)
        raise UsageError(f"--tokenizer {cfg.tokenizer or 'default'} cannot be loaded: {type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}",
                         "a Hugging Face tokenizer name or a local tokenizer directory") from None


def is_known_input(path: str) -> bool:
    """WARC or HTML by name; OBELICS or MMC4 by content."""
    if warc.is_warc(path) or warc.is_html(path):
        return True
    from pipeline.beam import files
    from pipeline.read import corpora

    try:
        with files.open_read(path) as f:
            return corpora.sniff(f) is not None
    except OSError:
        return False  # unreadable here: the job reports it


def run(argv: list[str] | None = None) -> dict:
    """Run the job; returns the stats dict that is also written to ``stats.json``."""
    args, cfg, beam_args = parse_args(sys.argv[1:] if argv is None else argv)
    output, work_dir = job_paths(args)
    beam_args = prepare_beam_args(beam_args)
    check_locality({"--output": output, "--work_dir": work_dir}, beam_args)
    inputs = match_inputs(args.input, is_known_input, KNOWN_INPUTS)
    check_assets(cfg)
    return run_job(
        job="corpus", output=output, work_dir=work_dir, beam_args=beam_args, resume=args.resume,
        keep_work=cfg.keep_work, record={"inputs": inputs, "config": to_dict(cfg)}, not_shaping=NOT_SHAPING,
        prefix=cfg.shard_prefix, break_lock=args.break_lock,
        build=lambda p, progress: build_pipeline(p, inputs, output, cfg, resume=args.resume,
                                                 progress_root=progress, work_dir=work_dir),
    )
