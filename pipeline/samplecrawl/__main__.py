"""``python -m pipeline.samplecrawl OUT.warc.gz [--seed N] [--summary FILE.json]``"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from pipeline.samplecrawl.build import build_sample_crawl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.samplecrawl",
                                     description="Build the project's sample crawl (a WARC).")
    parser.add_argument("out", help="output path, e.g. sample-crawl.warc.gz")
    parser.add_argument("--seed", type=int, default=0, help="crawl order seed (default 0)")
    parser.add_argument("--summary", help="also write the summary as JSON to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    summary = build_sample_crawl(args.out, seed=args.seed)
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as fh:
            json.dump(summary, fh, indent=2, sort_keys=True)
    counts = ", ".join(f"{k}={v}" for k, v in summary["record_counts"].items())
    print(f"{args.out}: {summary['num_pages']} pages, {len(summary['image_urls'])} images, "
          f"{summary['bytes']} bytes, sha256 {summary['sha256'][:16]}; records: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
