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

import os
import shutil
import time

from flamingo.typedconfig import ArgumentParser, UsageError, add_flags, config, opt, resolve
from pipeline.cli.inspect import main as inspect

SUMMARY = "sample crawl -> corpus and pairs jobs -> a few training steps, offline"


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


@config
class DemoConfig:
    out: str = opt("demo-out", "directory for the crawl, both jobs' outputs and the trained model")
    train_steps: int = opt(30, "training steps", min=1, max=100_000)


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="flamingo demo", description=__doc__.split("\n\n")[0])
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    add_flags(p, DemoConfig)
    cfg = resolve(DemoConfig, p.parse_args(argv))
    from pipeline.samplecrawl.build import build_sample_crawl

    if os.path.exists(cfg.out) and not os.path.isdir(cfg.out):
        raise UsageError(f"--out {cfg.out} is a file", "give a directory")
    os.makedirs(cfg.out, exist_ok=True)
    crawl = os.path.join(cfg.out, "sample-crawl.warc.gz")
    _say(f"building the sample crawl: {crawl}")
    summary = build_sample_crawl(crawl)
    print(f"{summary['num_pages']} pages, {summary['record_counts']}")

    corpus_out = os.path.join(cfg.out, "corpus")
    _say(f"corpus job (Beam, embedded multi-process runner) -> {corpus_out}")
    run_corpus(crawl, corpus_out)

    _say(f"flamingo inspect {corpus_out} --show 2")
    code = inspect([corpus_out, "--show", "2"])

    pairs_out = os.path.join(cfg.out, "pairs")
    _say(f"pairs job (alt text and figure captions) -> {pairs_out}")
    run_pairs(crawl, pairs_out)
    _say(f"flamingo inspect {pairs_out} --show 2")
    code = inspect([pairs_out, "--show", "2"]) or code

    train_out = os.path.join(cfg.out, "train")
    _say(f"training the demo Flamingo (frozen SmolLM2-135M + small random ViT) on both -> {train_out}")
    run_training(corpus_out, pairs_out, train_out, cfg.train_steps)

    for job in (corpus_out, pairs_out):
        _say(f"report: {os.path.join(job, 'report.html')} (and report.md)  stats: {os.path.join(job, 'stats.json')}")
    _say(f"look at the shards in a browser: flamingo view {corpus_out} {pairs_out}")
    return code
