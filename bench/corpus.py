"""Benchmark: the corpus job on Beam's embedded runner vs the same stages in a plain process pool.

    python bench/corpus.py [--pages 5000] [--workers N] [--rounds 2] [--keep]

Input: `bench/corpus_input.py` builds (once, cached under ``bench/.cache/``) a crawl of
``--pages`` distinct pages derived from the 181 real pages of ``../shared/data/article-
extraction`` and ``--images`` crawl JPEGs, in ``--files`` WARC.gz files. Prints "skipped" and
exits 0 without the data.

Beam: ``pipeline.jobs.corpus.run`` with its default runner (FnApiRunner, multi-processing,
``--direct_num_workers`` = workers). Baseline: `bench/corpus_baseline.py`, the same stage
functions in a ``multiprocessing.Pool`` of the same size. Both read the WARC files inside their
workers and write the same outputs (shards, manifest, stats, report). Each round runs both, in
alternating order so machine load drifts hit both alike. Reports wall and CPU seconds (this
process plus reaped children, ``getrusage``), pages/s and pages/s per worker, the load average,
and Beam/baseline wall and CPU time; checks both wrote the same shards (sha256) and counters.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "article-extraction"
CACHE = ROOT / "bench" / ".cache"
sys.path.insert(0, str(ROOT))  # this checkout's packages, not another installed copy
sys.path.insert(0, str(ROOT / "bench"))
for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "WANDB_MODE": "disabled",
               "NO_ALBUMENTATIONS_UPDATE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)
# Beam's worker processes import this checkout too, from any working directory.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)

TARGET_WALL, TARGET_CPU = 1.2, 1.1  # the Dataflow issue's bounds on Beam's overhead


def cpu_seconds() -> tuple[float, float]:
    """User + system CPU of (this process, every child it has reaped): Beam's SDK workers and
    the pool's processes are both reaped before their run returns."""
    out = []
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        out.append(ru.ru_utime + ru.ru_stime)
    return out[0], out[1]


def run_beam(inputs: list[str], out: str, workers: int, extra: list[str]) -> dict:
    from pipeline.jobs import corpus

    # The baseline keeps no sample of dropped items, so neither does the job here (the sample's cost:
    # one Top per reason, bounded; see bench/README.md).
    return corpus.run(["--input", *inputs, "--output", out, f"--direct_num_workers={workers}",
                       "--dropped_per_reason", "0", *extra])


def run_baseline(inputs: list[str], out: str, workers: int, extra: list[str]) -> dict:
    import corpus_baseline

    from pipeline.jobs.corpus import parse_args

    _, cfg, _ = parse_args(["--input", *inputs, "--output", out, *extra])
    os.makedirs(out, exist_ok=True)
    return corpus_baseline.run(inputs, out, cfg, workers)


def timed(fn, *args) -> tuple[dict, float, tuple[float, float], float]:
    """(stats, wall s, (parent CPU s, workers' CPU s), load average at the end)."""
    (self0, kids0), t0 = cpu_seconds(), time.perf_counter()
    stats = fn(*args)
    wall = time.perf_counter() - t0
    self1, kids1 = cpu_seconds()
    return stats, wall, (self1 - self0, kids1 - kids0), os.getloadavg()[0]


def shard_hashes(out: str) -> dict[str, str]:
    from pipeline.shards import manifest

    return {e.shard: e.sha256 for e in manifest.read_manifests(out)}


def nonzero(counters: dict) -> dict:
    return {f"{ns}/{k}": v for ns, c in counters.items() for k, v in c.items() if v}


def compare(beam: dict, base: dict, beam_out: str, base_out: str) -> list[str]:
    """Lines saying whether the two runs wrote the same thing."""
    same = shard_hashes(beam_out) == shard_hashes(base_out)
    head = (f"sequences: beam {beam['samples']:,}, baseline {base['samples']:,}; shards "
            f"{len(beam['shards'])} vs {len(base['shards'])}, byte-identical: {'yes' if same else 'NO'}")
    lines = [head]
    a, b = nonzero(beam["counters"]), nonzero(base["counters"])
    diff = {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
    lines.append("counters: identical" if not diff else f"counters differ (beam, baseline): {diff}")
    return lines


def row(name: str, pages: int, workers: int, wall: float, cpu: tuple[float, float],
        load: float) -> str:
    return (f"| {name} | {pages:,} | {workers} | {wall:.1f} | {sum(cpu):.1f} ({cpu[0]:.1f} + "
            f"{cpu[1]:.1f}) | {pages / wall:.1f} | {pages / wall / workers:.1f} | {load:.1f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=5000)
    ap.add_argument("--files", type=int, default=12)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--rounds", type=int, default=1, help="Beam + baseline pairs, order alternating")
    ap.add_argument("--only", choices=("beam", "baseline"), help="run one side only")
    ap.add_argument("--keep", action="store_true", help="keep the outputs instead of deleting them")
    ap.add_argument("job_args", nargs="*", help="after --: extra corpus-job options for both sides")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not (DATA / "html").is_dir():
        print(f"skipped: {DATA} not found (the benchmark pages live beside the project)")
        return 0
    from corpus_input import InputSpec, build_input

    import pipeline.beam.dedup  # noqa: F401  (Beam imported once, outside both timings)
    from pipeline.sequences.tokenizer import load_counting_tokenizer

    load_counting_tokenizer(None)  # converts the GGUF tokenizer into its cache once, outside the timings
    import matplotlib  # the report's plotting and its parquet index, imported once, outside both timings

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import pipeline.jobs.report_html  # noqa: F401
    spec = InputSpec(pages=args.pages, files=args.files, images=args.images)
    t0 = time.perf_counter()
    inputs = build_input(DATA, spec, CACHE, workers=args.workers)
    size = sum(os.path.getsize(p) for p in inputs)
    print(f"input: {spec.pages:,} pages, {spec.images:,} images, {len(inputs)} WARC.gz files, "
          f"{size / 1e6:.0f} MB ({time.perf_counter() - t0:.1f} s to build or find)")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before the runs")
    sides = {"beam": run_beam, "baseline": run_baseline}
    if args.only:
        sides = {args.only: sides[args.only]}
    tmp = tempfile.mkdtemp(prefix="bench-corpus-")
    results: dict[str, list] = {name: [] for name in sides}
    print("\n| run | pages | workers | wall s | CPU s (parent + workers) | pages/s | pages/s per worker | load after |")
    print("|---|---|---|---|---|---|---|---|")
    try:
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            for name in order:
                out = os.path.join(tmp, f"{name}-{r}")
                stats, wall, cpu, load = timed(sides[name], inputs, out, args.workers, args.job_args)
                pages = stats["counters"]["read"]["pages"]
                results[name].append((stats, wall, out, sum(cpu)))
                print(row(f"{name} #{r + 1}", pages, args.workers, wall, cpu, load), flush=True)
        if len(sides) == 2:
            for i, (what, target) in enumerate((("wall time", TARGET_WALL), ("CPU", TARGET_CPU))):
                beam = [r[1 + 2 * i] for r in results["beam"]]
                base = [r[1 + 2 * i] for r in results["baseline"]]
                print(f"{'' if i else chr(10)}Beam/baseline {what}: "
                      f"{', '.join(f'{b / p:.2f}x' for b, p in zip(beam, base))} per round; "
                      f"sum {sum(beam) / sum(base):.2f}x (target <= {target}x)")
            (bs, _, bo, _), (ps, _, po, _) = results["beam"][0], results["baseline"][0]
            print("\n".join(compare(bs, ps, bo, po)))
    finally:
        if args.keep:
            print(f"outputs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
