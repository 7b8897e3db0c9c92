"""Measure what the corpus job moves through its shuffles, per input page, and its CPU per page.

    python bench/shuffle.py [--pages 2000] [--scale]

Runs the corpus job once on the embedded runner in this process (``--runner FnApiRunner``, one
worker, so all CPU is this process's) on `bench/corpus_input.py`'s crawl (``--scale``: on
`bench/scale_input.py`'s adversarial one, with its image server) and reads Beam's own
per-PCollection monitoring: element counts and sampled encoded sizes. For every PCollection
that enters a GroupByKey (Reshuffle, CoGroupByKey and the shard assignment included), the
bytes entering the shuffle are ``element count x mean sampled size``; a combine's input is
counted in full (an upper bound: combiner lifting sends less). Prints one row per shuffle,
grouped by stage, and the totals per page, with CPU seconds per page: the inputs of
``docs/scale.md``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "article-extraction"
CACHE = ROOT / "bench" / ".cache"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "WANDB_MODE": "disabled",
               "NO_ALBUMENTATIONS_UPDATE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)

GBK = "beam:transform:group_by_key:v1"


def shuffle_inputs(proto) -> dict[str, str]:
    """PCollection id -> the unique name of the GroupByKey it enters."""
    out = {}
    for t in proto.components.transforms.values():
        if t.spec.urn == GBK:
            for pc in t.inputs.values():
                out[pc] = t.unique_name
    return out


def pcollection_sizes(result) -> dict[str, tuple[int, float]]:
    """PCollection id -> (elements, mean sampled encoded size in bytes)."""
    from apache_beam.metrics import monitoring_infos as mi

    counts, sizes = defaultdict(int), {}
    for info in result.monitoring_infos():
        pc = info.labels.get(mi.PCOLLECTION_LABEL)
        if not pc:
            continue
        if info.urn == mi.ELEMENT_COUNT_URN:
            counts[pc] += mi.extract_counter_value(info)
        elif info.urn == mi.SAMPLED_BYTE_SIZE_URN:
            d = mi.extract_distribution(info)  # (count, sum, min, max)
            n, total = sizes.get(pc, (0, 0))
            sizes[pc] = (n + d[0], total + d[1])
    return {pc: (counts[pc], (sizes[pc][1] / sizes[pc][0]) if sizes.get(pc, (0, 0))[0] else 0.0) for pc in counts}


def stage_msecs(result) -> dict[str, float]:
    """Top-level stage -> milliseconds its transforms spent (start + process + finish bundle),
    as the SDK harness's execution-time monitoring reports them."""
    from apache_beam.metrics import monitoring_infos as mi

    out: dict[str, float] = defaultdict(float)
    for info in result.monitoring_infos():
        if info.urn == mi.TOTAL_MSECS_URN:
            name = info.labels.get(mi.PTRANSFORM_LABEL, "")
            out[name.split("/")[0] or "?"] += mi.extract_counter_value(info)
    return dict(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--scale", action="store_true", help="the adversarial crawl of bench/scale_input.py")
    ap.add_argument("--port", type=int, default=18765)
    args = ap.parse_args(argv)
    if not (DATA / "html").is_dir():
        print(f"skipped: {DATA} not found")
        return 0
    import logging

    logging.basicConfig(level=logging.WARNING)
    from pipeline.jobs import corpus, runner

    extra, server = [], None
    if args.scale:
        from scale_input import ScaleSpec, build

        inputs = build(DATA, ScaleSpec(pages=args.pages, port=args.port), CACHE)
        server = subprocess.Popen([sys.executable, str(ROOT / "bench" / "scale.py"), "--serve", "--port",
                                   str(args.port)])
        extra = ["--image.allow_private_networks", "true", "--image.per_host_rate", "0",
                 "--image.per_host_concurrency", "16"]
        time.sleep(1.0)
    else:
        from corpus_input import InputSpec, build_input

        inputs = build_input(DATA, InputSpec(pages=args.pages, images=max(2, args.pages * 2 // 5)), CACHE)
    import pipeline.beam.dedup  # noqa: F401 (imports outside the timing)
    from pipeline.sequences.tokenizer import load_counting_tokenizer

    load_counting_tokenizer(None)
    seen = {}
    make = runner.make_pipeline

    def capture(beam_args):
        p = make(beam_args)
        run = p.run

        def run_and_keep(*a, **k):
            seen["result"] = run(*a, **k)
            return seen["result"]

        p.run = run_and_keep
        seen["pipeline"] = p
        return p

    runner.make_pipeline = capture
    cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-shuffle-") as tmp:
            stats = corpus.run(["--input", *inputs, "--output", os.path.join(tmp, "out"), "--runner", "FnApiRunner",
                                *extra])
    finally:
        if server:
            server.terminate()
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    p, result = seen["pipeline"], seen["result"]
    proto = p.to_runner_api(default_environment=p.runner._default_environment)  # noqa: SLF001
    entering = shuffle_inputs(proto)
    sizes = pcollection_sizes(result)
    pages = stats["counters"]["read"]["pages"]
    rows = []
    for pc, gbk in entering.items():
        n, mean = sizes.get(pc, (0, 0.0))
        rows.append((gbk, n, mean, n * mean))
    print(f"{pages:,} pages, {stats['samples']:,} sequences; {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"({cpu / pages * 1000:.1f} ms CPU per page, one process); load {os.getloadavg()[0]:.1f}\n")
    print("| shuffle (GroupByKey) | elements | mean bytes | bytes per page |")
    print("|---|---|---|---|")
    by_stage: dict[str, float] = defaultdict(float)
    for gbk, n, mean, total in sorted(rows, key=lambda r: -r[3]):
        print(f"| {gbk} | {n:,} | {mean:,.0f} | {total / pages:,.0f} |")
        by_stage[gbk.split("/")[0]] += total
    print("\n| stage | bytes shuffled per page |\n|---|---|")
    for stage, total in sorted(by_stage.items(), key=lambda kv: -kv[1]):
        print(f"| {stage} | {total / pages:,.0f} |")
    print(f"\ntotal: {sum(by_stage.values()) / pages:,.0f} bytes shuffled per input page")
    msecs = stage_msecs(result)
    print("\n| stage | ms per page (execution time) | share |\n|---|---|---|")
    total = sum(msecs.values()) or 1.0
    for stage, ms in sorted(msecs.items(), key=lambda kv: -kv[1]):
        if ms / total >= 0.001:
            print(f"| {stage} | {ms / pages:.2f} | {100 * ms / total:.1f}% |")
    c = stats["counters"]
    print(f"\nfunnel: pages {pages:,}, documents after filters {c['filter'].get('kept', 0):,}, unique "
          f"{c['dedup'].get('unique', 0):,}, image URLs {sum(v for k, v in c['images'].items() if not k.startswith('source_')):,}"
          f", kept documents {c['documents'].get('kept', 0):,}, sequences {stats['samples']:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
