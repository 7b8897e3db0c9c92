"""`flamingo pairs`: image-text pairs in img2dataset's webdataset layout, on any Beam runner.

    flamingo pairs --input 'crawl/*.warc.gz' --output out/ [options] [Beam options]
    flamingo pairs --input cc3m.tsv --list.url_col url --list.caption_col caption --output out/

Two inputs (``--input_kind auto`` tells them apart by extension):

* a crawl (WARC/HTML): every image extraction keeps, with its alt text (or figure
  caption, ``--caption_source alt,figcaption``) if the caption filters pass;
* URL + caption lists (parquet, CSV, TSV, JSONL), fetched through the images module,
  or by ``img2dataset.download`` itself with ``--downloader img2dataset``.

Then dedup by (image sha256, caption), optional CLIP-score filtering, fixed-size
shards (``samples_per_shard`` candidate rows each, like img2dataset's
``number_sample_per_shard``), and ``config.json``, ``stats.json``, ``report.md`` and, last,
``manifest.json`` beside them. Local runs default to the multi-process FnApiRunner.
"""

from __future__ import annotations

import logging
import os
import sys

from flamingo.typedconfig import UsageError, config, opt, require, section, to_dict
from pipeline.extract.page import ExtractOptions
from pipeline.filter.captions import CaptionFilterConfig
from pipeline.filter.clip import ClipConfig
from pipeline.images.config import ImageConfig
from pipeline.jobs.corpus import check_shard_prefix
from pipeline.jobs.runner import (
    check_locality,
    job_parser,
    job_paths,
    match_inputs,
    matched_files,
    parse_job_args,
    prepare_beam_args,
    run_job,
    workers_share_disk,
)
from pipeline.pairs.records import CAPTION_SOURCES
from pipeline.read import warc
from pipeline.read.urllists import UrlListConfig

log = logging.getLogger(__name__)

LIST_EXTS = (".parquet", ".csv", ".tsv", ".jsonl", ".json", ".csv.gz", ".tsv.gz", ".jsonl.gz")
# Options that change how the job runs, not what it writes: --resume accepts new values.
NOT_SHAPING = ("keep_work", "dropped_per_reason", "image.threads", "image.per_host_concurrency", "image.per_host_rate", "image.retries",
               "image.backoff_base_s", "image.backoff_max_s", "image.max_retry_after_s", "image.timeout_s",
               "image.connect_timeout_s", "image.dns_cache_ttl_s", "image.ca_bundle", "clip.device",
               "clip.batch_size")
KNOWN_INPUTS = ("crawls: .warc, .warc.gz, .arc, .html, .htm (and .gz); URL lists: "
                ".parquet, .csv, .tsv, .jsonl, .json (and .gz)")


@config
class PairsConfig:
    input_kind: str = opt("auto", "auto: crawl or URL list from the file names", choices=("auto", "crawl", "list"))
    samples_per_shard: int = opt(10000, "candidate rows per shard (img2dataset's number_sample_per_shard)",
                                 min=1, max=10_000_000)
    shard_prefix: str = opt("", "shard file names: PREFIX-00000.tar; '' names them 00000.tar like img2dataset")
    caption_source: tuple[str, ...] = opt(("alt",), "crawl captions tried in order, the first passing wins",
                                          choices=CAPTION_SOURCES)
    filter_list_captions: bool = opt(False, "run the caption rules on URL-list captions too")
    dedup: bool = opt(True, "drop repeated (image sha256, caption) pairs")
    downloader: str = opt("ours", "who fetches URL lists", choices=("ours", "img2dataset"))
    keep_work: bool = opt(False, "keep --work_dir (the image store) after success")
    dropped_per_reason: int = opt(8, "keep this many of each stage's drops per reason as shards in "
                                  "OUTPUT/dropped/, for the report and flamingo view (0: none)", min=0, max=1000)
    list: UrlListConfig = section(UrlListConfig)
    extract: ExtractOptions = section(ExtractOptions)
    caption: CaptionFilterConfig = section(CaptionFilterConfig)
    image: ImageConfig = section(ImageConfig)
    clip: ClipConfig = section(ClipConfig)

    def validate(self) -> None:
        require(len(self.caption_source) > 0, "caption_source", "must name alt and/or figcaption")
        check_shard_prefix(self.shard_prefix, allow_empty=True)


def is_list(path: str) -> bool:
    return path.lower().endswith(LIST_EXTS)


def input_kind(inputs: list[str], declared: str) -> str:
    if declared != "auto":
        return declared
    kinds = {"list" if is_list(p) else "crawl" for p in inputs}
    if len(kinds) > 1:
        raise UsageError("--input mixes URL lists and crawl files", "run them as two jobs")
    return kinds.pop()


def build_pipeline(p, inputs: list[str], output: str, cfg: PairsConfig, *, kind: str, resume: bool,
                   progress_root: str | None, work_dir: str | None = None, labels: dict[str, str] | None = None):
    """Wire the stages; returns the PCollection of written shards' (manifest entry, histograms)."""
    import apache_beam as beam

    from pipeline.beam import pairs as bp
    from pipeline.beam.shards import AssignShards, WriteShardsFn
    from pipeline.shards.format import KIND_PAIR

    work = (work_dir or f"{output.rstrip('/')}/_work").rstrip("/")
    crawl_root, image_root = f"{work}/crawl", f"{work}/images"
    checks = []  # the caption checks, whose drops the dropped-items sample keeps
    if kind == "list" and cfg.downloader == "img2dataset":
        from pipeline.beam import files
        from pipeline.pairs.img2dataset import download

        shards = download(matched_files(inputs), cfg, f"{work}/img2dataset", opener=files.open_read)
        records = p | "ReadImg2dataset" >> bp.ReadImg2datasetShards(shards, image_root)
    else:
        if kind == "list":
            candidates = p | "ReadUrlLists" >> bp.ReadUrlLists(inputs, cfg.list, labels)
            if cfg.filter_list_captions:
                checks.append(bp.CheckCaptions(cfg.caption))
                candidates = candidates | "CheckCaptions" >> checks[-1]
            crawl_images = p | "NoCrawlImages" >> beam.Create([])
        else:
            from pipeline.beam.extract import ExtractFn
            from pipeline.beam.read import ReadCrawl

            pages, crawl_images = p | "ReadCrawl" >> ReadCrawl(inputs, crawl_root, progress_root)
            docs = pages | "Extract" >> beam.ParDo(ExtractFn(cfg.extract, agent_token=cfg.image.agent_token))
            checks.append(bp.CheckCaptions(cfg.caption))
            candidates = (docs | "Candidates" >> beam.ParDo(bp.CrawlCandidatesFn(cfg.caption_source))
                          | "CheckCaptions" >> checks[-1])
        records = (candidates, crawl_images) | "Fetch" >> bp.FetchPairs(
            cfg.image, crawl_root, image_root, progress_root)
    if cfg.dedup:
        records = records | "Dedup" >> bp.DedupPairs()
    if cfg.clip.enabled:
        records = records | "Clip" >> bp.ClipFilter(cfg.clip, image_root)
    # A bounded sample of what the stages dropped -> OUTPUT/dropped/ (report.html, flamingo view).
    if cfg.dropped_per_reason:
        from pipeline.beam.dropped import SampleDropped
        from pipeline.dropped import from_pair

        drops = [records | "DroppedPairs" >> beam.FlatMap(
            lambda r: [] if r.ok else [from_pair("pairs", r.status, r)])]
        drops += [c.dropped | f"DroppedCaptions{n}" >> beam.MapTuple(lambda reason, r: from_pair("captions", reason, r))
                  for n, c in enumerate(checks)]
        (drops | "AllDropped" >> beam.Flatten()
         | "SampleDropped" >> SampleDropped(output, image_root, cfg.dropped_per_reason))
    return (
        records
        | "KeyByKey" >> beam.Map(lambda r: (r.key, r))
        | "AssignShards" >> AssignShards(cfg.samples_per_shard)
        | "WriteShards" >> beam.ParDo(WriteShardsFn(output, image_root, cfg.shard_prefix, resume, KIND_PAIR,
                                                    progress_root))
    )


def parser():
    return job_parser("flamingo pairs", __doc__.split("\n\n")[0], PairsConfig,
                      f"crawl files or URL lists, or globs ({KNOWN_INPUTS}); a directory means its files")


def parse_args(argv: list[str]):
    """argv -> (args, PairsConfig, Beam arguments); every value checked, nothing run."""
    return parse_job_args(parser(), PairsConfig, argv)


def check_assets(cfg: PairsConfig, kind: str, output: str) -> None:
    """What the workers will need, checked now rather than after the reading."""
    if cfg.downloader == "img2dataset":
        if kind != "list":
            raise UsageError("--downloader img2dataset takes URL lists, not crawls")
        if "://" in output:
            raise UsageError("--downloader img2dataset needs a local --output",
                             "img2dataset runs on the launching machine")
    if cfg.clip.enabled:
        check_clip_model(cfg.clip)


def check_clip_model(clip: ClipConfig) -> None:
    import open_clip

    if clip.model_config:
        if not os.path.exists(clip.model_config):
            raise UsageError(f"--clip.model_config {clip.model_config} not found")
        open_clip.add_model_config(clip.model_config)
    if clip.model not in open_clip.list_models():
        raise UsageError(f"--clip.model {clip.model} is not an open_clip architecture",
                         "see open_clip.list_models(), or register one with --clip.model_config")
    tag = clip.pretrained
    if tag and not os.path.exists(tag) and tag not in open_clip.list_pretrained_tags_by_model(clip.model):
        known = ", ".join(open_clip.list_pretrained_tags_by_model(clip.model)) or "none"
        raise UsageError(f"--clip.pretrained {tag} is neither a file nor a tag of {clip.model}", f"tags: {known}")


def run(argv: list[str] | None = None) -> dict:
    """Run the job; returns the stats dict that is also written to ``stats.json``."""
    args, cfg, beam_args = parse_args(sys.argv[1:] if argv is None else argv)
    output, work_dir = job_paths(args)
    beam_args = prepare_beam_args(beam_args)
    kind = input_kind(args.input, cfg.input_kind)
    known = is_list if kind == "list" else (lambda p: warc.is_warc(p) or warc.is_html(p))
    inputs = match_inputs(args.input, known, KNOWN_INPUTS)
    check_assets(cfg, kind, output)
    if kind == "list" and cfg.downloader == "img2dataset":
        if not workers_share_disk(beam_args):
            raise UsageError("--downloader img2dataset downloads on this machine, into --work_dir",
                             "run it with the embedded runner, or use --downloader ours")
    else:
        check_locality({"--output": output, "--work_dir": work_dir}, beam_args)
    labels = None
    if kind == "list":
        from pipeline.read.urllists import file_labels

        labels = file_labels(matched_files(inputs))
    return run_job(
        job="pairs", output=output, work_dir=work_dir, beam_args=beam_args, resume=args.resume,
        keep_work=cfg.keep_work, record={"inputs": inputs, "input_kind": kind, "config": to_dict(cfg)},
        not_shaping=NOT_SHAPING, prefix=cfg.shard_prefix, break_lock=args.break_lock,
        build=lambda p, progress: build_pipeline(p, inputs, output, cfg, kind=kind, resume=args.resume,
                                                 progress_root=progress, work_dir=work_dir, labels=labels),
    )
