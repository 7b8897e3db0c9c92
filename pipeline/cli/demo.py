"""`make demo`: the project's main path end to end, offline, on the embedded runner.

1. build the sample crawl the project ships (a WARC of pages written for the project,
   with real photos as image records and some image URLs only HTTP could fetch);
2. run the corpus job on it with the default local runner (multi-process FnApiRunner);
3. inspect the shards it wrote;
4. run the pairs job on the same crawl (alt text / figure captions) and inspect it;
5. learn to see: write the synthetic shapes benchmark (train and held-out splits, COCO format),
   pretrain the ``see`` Flamingo's small vision tower contrastively on its train split and freeze it
   (train/tower.py), train the Perceiver and gated cross-attention on the same split (train/see.py),
   save, reload, caption two held-out images of different scenes, and measure few-shot CIDEr and
   per-attribute accuracy with the true images and with blank ones;
6. say where the reports are.

``--crawl_steps N`` also trains a fresh demo Flamingo on the crawl's own shards for N steps and
captions a crawl image (its vision tower is random and N small: only the language is learnt).
The full learns-to-see measurement, with trials, is ``python bench/learns_to_see.py``.
"""

from __future__ import annotations

import os
import shutil
import time

from flamingo.typedconfig import ArgumentParser, UsageError, add_flags, config, opt, resolve
from pipeline.cli.inspect import main as inspect

SUMMARY = "sample crawl -> corpus and pairs jobs -> a Flamingo learns to see synthetic shapes, offline"


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


def run_seeing(out: str, steps: int, threads: int) -> None:
    """Train on the synthetic shapes, caption two held-out images, compare true and blank images."""
    from train.eval.attributes import run_accuracy
    from train.eval.checkpoints import load_checkpoint
    from train.see import SeeConfig, caption_held_out, measure, prepare, train_to_see

    cfg = SeeConfig(steps=steps, threads=threads)
    ann, shards = prepare(out, cfg)
    print(f"synthetic shapes benchmark: {ann} ({cfg.train_images} train, {cfg.test_images} held-out images); "
          f"train documents: {os.path.dirname(shards[0])}")
    run = train_to_see(out, cfg, shards, ann)
    if run.tower_losses:
        k = max(1, len(run.tower_losses) // 10)
        print(f"pretrained the vision tower contrastively on the train split, {len(run.tower_losses)} steps "
              f"({run.tower_seconds:.0f} s): loss {sum(run.tower_losses[:k]) / k:.2f} -> "
              f"{sum(run.tower_losses[-k:]) / k:.2f}; then froze it")
        z = run.tower_zero_shot
        print(f"  the tower alone (nearest caption) on the held-out images: colour / shape / count right in "
              f"{z['colour']:.0%} / {z['shape']:.0%} / {z['count']:.0%}")
    k = max(1, len(run.losses) // 10)
    print(f"trained the Perceiver and gated cross-attention {len(run.losses)} steps ({run.train_seconds:.0f} s): loss {sum(run.losses[:k]) / k:.2f} -> "
          f"{sum(run.losses[-k:]) / k:.2f} (mean of first/last {k}); saved to {run.model_dir} and reloaded")
    loaded = load_checkpoint(run.model_dir)
    for c in caption_held_out(loaded.model, loaded.tokenizer, loaded.transform, ann):
        print(f"held-out {os.path.basename(c['image'])}: shows {c['truth']!r}; 4-shot caption: {c['caption']!r}")
    t = time.time()
    scores = measure(run.model_dir, ann, os.path.join(out, "eval"), shots=[4], trials=1, max_queries=50,
                     before=False, precision="bf16")
    print(f"4-shot CIDEr on 50 held-out images: true images {scores['true']['4']['mean']:.1f}, blank images "
          f"{scores['blank']['4']['mean']:.1f} ({time.time() - t:.0f} s; predictions in {os.path.join(out, 'eval')})")
    for name in ("true", "blank"):
        acc = run_accuracy(os.path.join(out, "eval", name))
        print(f"  {name} images: the caption states the colour / shape / count rightly in {acc['colour']:.0%} / "
              f"{acc['shape']:.0%} / {acc['count']:.0%} of {acc['n']} (chance ~25% / 33% / 33%)")


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
    print(f"generated caption: {result['caption']!r} (true: {result['true_caption']!r}; a few steps on web "
          "captions teach their language, not yet what the images show)")


@config
class DemoConfig:
    out: str = opt("demo-out", "directory for the crawl, both jobs' outputs and the trained models")
    see_steps: int = opt(300, "learns-to-see training steps (0 skips that leg)", min=0, max=100_000)
    threads: int = opt(0, "torch CPU threads for training (0: torch's default)", min=0, max=1024)
    crawl_steps: int = opt(0, "also train on the crawl's shards for this many steps (0: no)", min=0, max=100_000)


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

    if cfg.see_steps:
        see_out = os.path.join(cfg.out, "see")
        _say(f"learning to see: the see Flamingo (frozen SmolLM2-135M + a small ViT pretrained contrastively, then "
             f"frozen) on synthetic shapes -> {see_out}")
        run_seeing(see_out, cfg.see_steps, cfg.threads)
    if cfg.crawl_steps:
        train_out = os.path.join(cfg.out, "train")
        _say(f"training the demo Flamingo on the crawl's shards -> {train_out}")
        run_training(corpus_out, pairs_out, train_out, cfg.crawl_steps)

    for job in (corpus_out, pairs_out):
        _say(f"report: {os.path.join(job, 'report.html')} (and report.md)  stats: {os.path.join(job, 'stats.json')}")
    _say(f"look at the shards in a browser: flamingo view {corpus_out} {pairs_out}")
    return code
