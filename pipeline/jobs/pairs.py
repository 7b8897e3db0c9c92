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
``number_sample_per_shard``), and ``manifest.json``, ``stats.json``, ``report.md``,
``config.json`` beside them. Local runs default to the multi-process FnApiRunner.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field

from pipeline.filter.captions import CaptionFilterConfig
from pipeline.filter.clip import ClipConfig
from pipeline.configcli import add_config_args, config_from_args, config_to_dict
from pipeline.images import ImageConfig
from pipeline.jobs.runner import run_job
from pipeline.read.urllists import UrlListConfig

log = logging.getLogger(__name__)

LIST_EXTS = (".parquet", ".csv", ".tsv", ".jsonl", ".json", ".csv.gz", ".tsv.gz", ".jsonl.gz")


@dataclass(kw_only=True)
class PairsConfig:
    input_kind: str = field(default="auto", metadata={"help": "auto | crawl | list"})
    samples_per_shard: int = field(default=10000, metadata={"help": "candidate rows per shard (img2dataset's number_sample_per_shard)"})
    shard_prefix: str = field(default="", metadata={"help": "'' names shards 00000.tar like img2dataset"})
    caption_source: tuple[str, ...] = field(default=("alt",), metadata={"help": "crawl captions, first passing wins: alt,figcaption"})
    filter_list_captions: bool = field(default=False, metadata={"help": "run the caption filters on URL-list captions too"})
    dedup: bool = field(default=True, metadata={"help": "drop repeated (image sha256, caption) pairs"})
    downloader: str = field(default="ours", metadata={"help": "ours | img2dataset (URL lists only)"})
    keep_work: bool = field(default=False, metadata={"help": "keep OUTPUT/_work (image store) after success"})
    list: UrlListConfig = field(default_factory=UrlListConfig)
    caption: CaptionFilterConfig = field(default_factory=CaptionFilterConfig)
    image: ImageConfig = field(default_factory=ImageConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)

    def __post_init__(self) -> None:
        if self.input_kind not in ("auto", "crawl", "list"):
            raise ValueError(f"input_kind must be auto, crawl or list: {self.input_kind!r}")
        if self.downloader not in ("ours", "img2dataset"):
            raise ValueError(f"downloader must be ours or img2dataset: {self.downloader!r}")
        bad = set(self.caption_source) - {"alt", "figcaption"}
        if bad or not self.caption_source:
            raise ValueError(f"caption_source takes alt and/or figcaption, got {self.caption_source}")


def input_kind(inputs: list[str], declared: str) -> str:
    if declared != "auto":
        return declared
    kinds = {"list" if p.lower().endswith(LIST_EXTS) else "crawl" for p in inputs}
    if len(kinds) > 1:
        raise SystemExit("flamingo pairs: mix of URL lists and crawl files; run them as two jobs")
    return kinds.pop()


def build_pipeline(p, inputs: list[str], output: str, cfg: PairsConfig, *, kind: str, resume: bool,
                   progress_root: str | None):
    """Wire the stages; returns the PCollection of written shards' manifest entries."""
    import apache_beam as beam

    from pipeline.beam import pairs as tp
    from pipeline.beam.read import AssignShards

    work = f"{output.rstrip('/')}/_work"
    crawl_root, image_root = f"{work}/crawl", f"{work}/images"
    if kind == "list" and cfg.downloader == "img2dataset":
        from pipeline.pairs.img2dataset import ReadImg2datasetShards, download

        folder = download(inputs, cfg, f"{work}/img2dataset")
        records = p | "ReadImg2dataset" >> ReadImg2datasetShards(folder, image_root)
    else:
        if kind == "list":
            candidates = p | "ReadUrlLists" >> tp.ReadUrlLists(inputs, cfg.list)
            if cfg.filter_list_captions:
                candidates = candidates | "FilterCaptions" >> beam.ParDo(tp.FilterCaptionsFn(cfg.caption))
            crawl_images = p | "NoCrawlImages" >> beam.Create([])
        else:
            from pipeline.beam.read import ExtractFn, ReadCrawl

            pages, crawl_images = p | "ReadCrawl" >> ReadCrawl(inputs, crawl_root, progress_root)
            docs = pages | "Extract" >> beam.ParDo(ExtractFn(agent_token=cfg.image.agent_token))
            candidates = docs | "Candidates" >> beam.ParDo(tp.CrawlCandidatesFn(cfg.caption, cfg.caption_source))
        records = (candidates, crawl_images) | "Fetch" >> tp.FetchPairs(
            cfg.image, crawl_root, image_root, progress_root)
    if cfg.dedup:
        records = records | "Dedup" >> tp.DedupPairs()
    if cfg.clip.enabled:
        records = records | "Clip" >> tp.ClipFilter(cfg.clip, image_root)
    return (
        records
        | "KeyByKey" >> beam.Map(lambda r: (r.key, r))
        | "AssignShards" >> AssignShards(cfg.samples_per_shard)
        | "WriteShards" >> beam.ParDo(tp.WritePairShardsFn(output, image_root, cfg.shard_prefix, resume,
                                                           progress_root))
    )


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", nargs="+", required=True, metavar="GLOB",
                        help="WARC/HTML files, or URL lists (parquet/csv/tsv/jsonl), or globs")
    parser.add_argument("--output", required=True, help="output directory (local or gs://, s3://)")
    parser.add_argument("--resume", action="store_true", help="continue into an existing output, skipping finished shards")
    add_config_args(parser, PairsConfig)


def parse_args(argv: list[str]):
    parser = argparse.ArgumentParser(prog="flamingo pairs", description=__doc__.split("\n\n")[0])
    add_cli_args(parser)
    return parser.parse_known_args(argv)


def run(argv: list[str] | None = None) -> dict:
    """Run the job; returns the stats dict that is also written to ``stats.json``."""
    args, beam_args = parse_args(sys.argv[1:] if argv is None else argv)
    cfg = config_from_args(PairsConfig, args)
    kind = input_kind(args.input, cfg.input_kind)
    if cfg.downloader == "img2dataset" and kind != "list":
        raise SystemExit("flamingo pairs: --downloader img2dataset takes URL lists, not crawls")
    output = args.output.rstrip("/")
    return run_job(
        job="pairs", output=output, beam_args=beam_args, resume=args.resume, keep_work=cfg.keep_work,
        config={"inputs": args.input, "input_kind": kind, "config": config_to_dict(cfg)},
        build=lambda p, progress: build_pipeline(p, args.input, output, cfg, kind=kind, resume=args.resume,
                                                 progress_root=progress),
    )
