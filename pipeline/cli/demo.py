"""`make demo`: the project's main path end to end, offline, on the embedded runner.

1. build the sample crawl the project ships (a WARC of pages written for the project,
   with real photos as image records and some image URLs only HTTP could fetch);
2. run the corpus job on it with the default local runner (multi-process FnApiRunner);
3. inspect the shards it wrote;
4. run the pairs job on the same crawl (alt text / figure captions) and inspect it;
5. train the demo Flamingo on both for a few dozen steps, save, reload, and caption an image
   with a few-shot prompt;
6. say where the reports are.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time

from pipeline.cli import main as flamingo


def _say(msg: str) -> None:
    print(f"\n== {msg}", flush=True)


def run_corpus(crawl: str, out: str) -> None:
    from pipeline.jobs import corpus

    shutil.rmtree(out, ignore_errors=True)
    t = time.time()
    stats = corpus.run(["--input", crawl, "--output", out, "--samples_per_shard", "8"])
    c = stats["counters"]
    print(f"corpus job: {c['read']['pages']} pages read, {c['documents'].get('kept', 0)} documents kept, "
          f"{stats['samples']} sequences with {stats['images']} images in {len(stats['shards'])} shards "
          f"({time.time() - t:.1f} s)")


def run_pairs(crawl: str, out: str) -> None:
    from pipeline.jobs import pairs

    shutil.rmtree(out, ignore_errors=True)
    t = time.time()
    stats = pairs.run(["--input", crawl, "--output", out, "--caption_source", "alt,figcaption",
                       "--samples_per_shard", "64"])
    print(f"pairs job: {stats['samples']} image-text pairs in {len(stats['shards'])} shards "
          f"({time.time() - t:.1f} s)")


def run_training(corpus_out: str, pairs_out: str, out: str, steps: int) -> None:
    from train.demo import run_demo

    t = time.time()
    result = run_demo({"interleaved": [corpus_out], "pairs": [pairs_out]}, out, steps=steps)
    losses = result["losses"]
    k = max(1, len(losses) // 5)
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    print(f"trained {len(losses)} steps ({time.time() - t:.0f} s): loss {first:.2f} -> {last:.2f} "
          f"(mean of first/last {k}); saved to {result['model_dir']} and reloaded")
    print("few-shot prompt captions:", " | ".join(result["prompt_captions"]))
    print(f"generated caption: {result['caption']!r} (true: {result['true_caption']!r}; the vision "
          "tower is random, so only the language is learned)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.cli.demo")
    parser.add_argument("--out", default="demo-out")
    parser.add_argument("--train_steps", type=int, default=30)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    from pipeline.samplecrawl.build import build_sample_crawl

    os.makedirs(args.out, exist_ok=True)
    crawl = os.path.join(args.out, "sample-crawl.warc.gz")
    _say(f"building the sample crawl: {crawl}")
    summary = build_sample_crawl(crawl)
    print(f"{summary['num_pages']} pages, {summary['record_counts']}")

    corpus_out = os.path.join(args.out, "corpus")
    _say(f"corpus job (Beam, embedded multi-process runner) -> {corpus_out}")
    run_corpus(crawl, corpus_out)

    _say(f"flamingo inspect {corpus_out} --show 2")
    code = flamingo(["inspect", corpus_out, "--show", "2"])

    pairs_out = os.path.join(args.out, "pairs")
    _say(f"pairs job (alt text and figure captions) -> {pairs_out}")
    run_pairs(crawl, pairs_out)
    _say(f"flamingo inspect {pairs_out} --show 2")
    code = flamingo(["inspect", pairs_out, "--show", "2"]) or code

    train_out = os.path.join(args.out, "train")
    _say(f"training the demo Flamingo (frozen SmolLM2-135M + small random ViT) on both -> {train_out}")
    run_training(corpus_out, pairs_out, train_out, args.train_steps)

    for job in (corpus_out, pairs_out):
        _say(f"report: {os.path.join(job, 'report.md')}  stats: {os.path.join(job, 'stats.json')}")
    return code


if __name__ == "__main__":
    sys.exit(main())


def _run(args: argparse.Namespace, extra: list[str]) -> int:
    return main([*extra, *args.raw_argv])


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="sample crawl -> corpus and pairs jobs -> a few training steps, offline",
                       add_help=False)
    p.add_argument("raw_argv", nargs=argparse.REMAINDER)
    p.set_defaults(func=_run, accepts_extra=True)
